"""Custom socket types of this pack. The names are part of saved workflows: never rename them."""
from comfy_api.v0_0_2 import io

Layout = io.Custom("ACEPP_LAYOUT")  # lcu.layout.CanvasLayout: canvas builder -> result stitcher
References = io.Custom("ACEPP_REFERENCES")  # tuple of IMAGE batches, left to right

CATEGORY = "ACE++"
