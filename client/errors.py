"""The client's one error type and its exit codes (documented in `run --help`; scripts rely on them)."""
from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2          # bad command line (--out not a folder you can write), or --embedded with nothing to start
EXIT_WORKFLOW = 3       # unknown workflow
EXIT_INPUT = 4          # an input or parameter the workflow does not have (or a required one missing)
EXIT_IMAGE = 5          # an image file is missing, unreadable, or the mask does not fit the edit image
EXIT_SERVER = 6         # no server can be reached or it answers what ComfyUI does not (or --embedded failed)
EXIT_REJECTED = 7       # the server rejected the prompt (validation errors)
EXIT_EXECUTION = 8      # execution error on the server
EXIT_INTERRUPTED = 9    # interrupted (POST /interrupt on the server, or Ctrl-C here)
EXIT_UNSAFE_PATH = 10   # the server named an output that is not a plain relative path (nothing written)
EXIT_TIMEOUT = 11       # no result in time

EXIT_CODES_HELP = """Exit codes:
  0  success (every job written, or already there with --skip-existing)
  2  bad command line (argparse; --out a file or not writable; --server not an http address),
     or --embedded with no ComfyUI to start
  3  unknown workflow
  4  an input or parameter the workflow does not have (or a required image input is missing)
  5  an image file is missing, unreadable, or the mask does not fit the edit image
  6  no server can be reached, or it answers what ComfyUI does not (or the embedded server failed to start)
  7  the server rejected the prompt (validation errors: node_errors are printed)
  8  execution error on the server
  9  the run was interrupted (POST /interrupt, or Ctrl-C here)
  10 the server named an output file that is not a plain relative path (nothing written)
  11 timed out waiting for the result
When some jobs of a batch fail, the exit code is the first failure's and the message counts the failures."""


class ClientError(Exception):
    """A failure with the exit code that reports it. ``details`` keeps the server's own answer (the
    rejected prompt's body, the execution_error message) for callers that want more than the text."""

    def __init__(self, code: int, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.details = details or {}

    @property
    def server_down(self) -> bool:
        """The server, not the job, failed: the job may succeed on another server."""
        return self.code == EXIT_SERVER
