"""One folder per model family. Each folder is self-contained as it is exported as Hub remote code: its modules
import one another with one dot, and the shared input handling with `from ...inputs.<module> import`."""
