"""Code scanners: turning an image (or a camera frame) into the payloads of the codes in it."""
