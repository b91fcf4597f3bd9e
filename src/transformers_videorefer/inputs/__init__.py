"""Input handling shared by the model families: reading media (`media`) and decoding object masks (`masks`).

The processors import these modules as `from ...inputs.<module> import`; the remote-code export copies them beside
the processor (see `hub.remote_code`)."""
