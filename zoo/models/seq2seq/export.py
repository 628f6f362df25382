"""SavedModel export of a seq2seq model: a batch of strings in, strings out.

Tokenization, the search and detokenization all run inside the graph, so the
SavedModel serves raw words with nothing but TensorFlow.

Behaviour on bad input (documented in docs/g2p.md, docs/translation.md and
docs/summarization.md, and tested):

* empty (or all-blank) strings give an empty output string;
* characters never seen in training map to ``[UNK]`` and still get an
  output (digits and most punctuation are such characters for CMUdict);
* an input longer than the model's ``source_sequence_length`` tokens fails
  the whole call with ``InvalidArgumentError`` naming the limit (G2P), or
  with ``truncate=True`` (translation, summarization) is cut to that many
  tokens and flagged in the ``truncated`` output;
* a non-string batch is refused by the signature (``InvalidArgumentError``
  through ``signatures["serve"]``, ``TypeError`` or ``ValueError`` through
  the ``serve`` attribute), and so is a scalar or a 2-D batch
  (``InvalidArgumentError`` naming the received and the expected shape).
"""

from __future__ import annotations

from zoo.data.tokenizers import tf_strip
from zoo.decoding import Decoder


def export_seq2seq(
    model,
    source_tokenizer,
    target_tokenizer,
    path,
    beam_size=4,
    length_penalty=0.6,
    truncate=False,
):
    """Write ``model`` with its tokenizers and search as a SavedModel.

    The ``serve`` signature (also the default ``serving_default``) takes
    ``inputs``: a 1-D ``tf.string`` tensor, and returns ``outputs``: a 1-D
    ``tf.string`` tensor of the same length; with ``truncate`` also
    ``truncated``, a 1-D bool tensor that flags the inputs cut to the model's
    source length.

    Args:
        model: a trained ``Seq2SeqTransformer``.
        source_tokenizer: the run's source tokenizer (with ``tf_encode``).
        target_tokenizer: the run's target tokenizer (with ``tf_decode``).
        path: output folder.
        beam_size: beams of the search; 1 is greedy search.
        length_penalty: beam search's GNMT length penalty alpha.
        truncate: cut inputs longer than the model reads instead of failing.

    Returns:
        ``path`` as a ``Path``.
    """
    import tensorflow as tf

    from zoo.export import (
        add_serving_endpoint,
        model_function,
        new_archive,
        write_out,
    )

    decoder = Decoder(model, beam_size=beam_size, length_penalty=length_penalty)
    limit = model.source_sequence_length
    archive = new_archive(model)
    # The lookup tables are resources the graph captures: keep them tracked.
    archive._tf_trackable.zoo_tokenizer_tables = [
        *source_tokenizer.resources(),
        *target_tokenizer.resources(),
    ]
    search = model_function(
        archive,
        "search",
        decoder.search,
        [tf.TensorSpec([None, limit], tf.int32)],
    )

    def serve(inputs):
        # As `zoo predict` strips (str.strip), non-breaking spaces included.
        words = tf_strip(inputs)
        ids = source_tokenizer.tf_encode(words)
        lengths = ids.row_lengths()
        if truncate:
            dense = ids[:, :limit].to_tensor(default_value=0, shape=[None, limit])
        else:
            # Names every input that is too long, not the first three lengths
            # of the batch (all TensorFlow's comparison asserts show).
            too_long = tf.where(lengths > limit)[:, 0]
            check = tf.debugging.Assert(
                tf.equal(tf.size(too_long), 0),
                [
                    f"an input is longer than the limit of {limit} symbols: inputs",
                    too_long,
                    "have",
                    tf.gather(lengths, too_long),
                    "symbols",
                ],
                summarize=100,
            )
            with tf.control_dependencies([check]):
                dense = ids.to_tensor(default_value=0, shape=[None, limit])
        text = target_tokenizer.tf_decode(search(tf.cast(dense, tf.int32)))
        outputs = {"outputs": tf.where(lengths > 0, text, tf.constant(""))}
        if truncate:
            outputs["truncated"] = lengths > limit
        return outputs

    add_serving_endpoint(
        archive, "serve", serve, [tf.TensorSpec([None], tf.string, "inputs")]
    )
    return write_out(archive, path)
