"""LCU++ mathematics for ACE++: sizing, canvas, masks, conditioning pixels, stitching, control maps.

Pure tensor code (torch, kornia, einops): no ComfyUI import, so it is unit-tested on its own.
"""
