"""Faster inference: the fast greedy generator (`fast_greedy`), the `sdpa_grouped` attention (`attention`) and its
split-KV decode kernel in Triton (`decode_attention`)."""
