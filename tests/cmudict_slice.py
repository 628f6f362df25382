"""A small real slice of CMUdict written as a ``.tsv`` of word and pronunciation."""


def write_cmudict_slice(path, step):
    """Write every ``step``-th CMUdict word, each pronunciation a line; return path."""
    from zoo.data.cmudict import read_pronunciations

    words = read_pronunciations()
    keys = sorted(words)[::step]
    path.write_text("".join(f"{w}\t{r}\n" for w in keys for r in words[w]))
    return path
