"""Checkpoints in and out: converting releases (`convert`), building a model from released parts (`parts`), the
remote-code export (`remote_code`) and the releases' pickled partial checkpoints (`state_dict_files`)."""
