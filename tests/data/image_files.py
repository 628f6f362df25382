"""Real images written as files of each format the image loaders read."""

import numpy as np


def write_image(path, grey):
    """Write a (height, width) grey image in the format of ``path``'s suffix.

    BMP is written as RGB and JPEG as CMYK: with GIF, the files that do not
    decode straight to one channel.
    """
    from PIL import Image

    image = Image.fromarray(np.asarray(grey))
    image = image.convert({".bmp": "RGB", ".jpg": "CMYK"}.get(path.suffix, "L"))
    image.save(path)
