"""Folders among `zoo predict`'s INPUTs, expanded to the image files they hold.

``zoo predict runs/vit shirts/`` predicts every image under ``shirts/``, its
sub-folders included, so that a test folder laid out for training (one
sub-folder per class) works as it is. The files are those training reads
(`zoo.data.images.IMAGE_EXTENSIONS`, any letter case), sorted by path; hidden
files and folders (``.ipynb_checkpoints/``, ``.DS_Store``) are tools' state
and are skipped, as training skips them.

Examples:
    >>> import os, tempfile
    >>> from zoo.image_inputs import expand_image_folders
    >>> shirts = tempfile.mkdtemp()
    >>> for name in ("b.png", "a.JPG", "notes.txt"):
    ...     open(os.path.join(shirts, name), "wb").close()
    >>> inputs = expand_image_folders([shirts, "shoe.png"])
    >>> [os.path.basename(path) for path in inputs]
    ['a.JPG', 'b.png', 'shoe.png']
"""

from __future__ import annotations

import os


def expand_image_folders(inputs):
    """``inputs`` with each folder replaced by the image files under it.

    Other INPUTs (files, missing paths, empty lines) stay as they are, in
    their place: the family names a missing or unreadable file itself.

    Raises:
        ValueError: for a folder that holds no image files.
    """
    expanded = []
    for item in inputs:
        if item and os.path.isdir(os.path.expanduser(item)):
            expanded += images_under(item)
        else:
            expanded.append(item)
    return expanded


def images_under(folder):
    """The image files under ``folder`` and its sub-folders, sorted by path.

    Paths start with ``folder`` as given (a leading ``~`` expanded), so each
    prediction line names a file the user can open. Symbolic links to
    folders are not followed: a link back up the tree would never end.

    Raises:
        ValueError: naming ``folder``, if it holds no image files.
    """
    from zoo.data.images import IMAGE_EXTENSIONS

    root = os.path.expanduser(folder)
    found, others = [], 0
    for directory, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(os.path.relpath(os.path.join(directory, name), root))
            else:
                others += 1
    if not found:
        raise ValueError(
            f"INPUT {folder!r} is a folder with no images: expected files ending "
            f"in {', '.join(IMAGE_EXTENSIONS)} in it or its sub-folders, received "
            f"none ({others} other file(s))"
        )
    # By path components, so that "a/z.png" sorts with "a/", before "a b.png".
    found.sort(key=lambda path: path.split(os.sep))
    return [os.path.join(root, path) for path in found]
