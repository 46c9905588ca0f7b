"""tutor: an offline study tutor for the AWS DEA-C01 concise guide.

Answers come from a local GGUF model, but only sentences that the grounding check finds in
the cited sections of the guide are shown as fact. Importing this package is cheap: torch,
faiss and llama.cpp load only when a command needs them.
"""

__version__ = "0.1.0"
