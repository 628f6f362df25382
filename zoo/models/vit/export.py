"""SavedModel export of a ViT classifier that serves raw images."""


def export_saved_model(model, preprocessing, path):
    """Write ``model`` as a SavedModel whose signatures take raw images.

    Signatures:
        ``serving_default(images)``: ``uint8`` (batch, any height, any width,
        channels) images; they are resized to the model's size and normalized
        inside.
        ``serve_bytes(image_bytes)``: a (batch,) string tensor of encoded PNG,
        JPEG, BMP or GIF files.

    Both return ``probabilities`` (batch, classes) float32, ``classes`` (batch,)
    the most probable class names and ``class_names`` (batch, classes).

    Args:
        model: a trained `ViTClassifier` (or any model on normalized images).
        preprocessing: the run's preprocessing dict (``image_size``,
            ``channels``, ``mean``, ``std``, ``class_names``).
        path: the SavedModel directory to write.

    Returns:
        ``path`` as a ``Path``.

    Examples:
        >>> from zoo.models.vit.export import export_saved_model
        >>> export_saved_model(model, prep, "out/saved_model")  # doctest: +SKIP
    """
    import keras
    import tensorflow as tf

    from zoo.data.images import decode_image_tensor
    from zoo.export import (
        add_serving_endpoint,
        model_function,
        new_archive,
        write_out,
    )

    height, width = preprocessing["image_size"]
    channels = preprocessing["channels"]
    mean = tf.constant(preprocessing["mean"], tf.float32)
    std = tf.constant(preprocessing["std"], tf.float32)
    names = tf.constant(preprocessing["class_names"])

    def resize(images):
        # The same resize, rounding and clipping as zoo.data.images.resize_images,
        # so that served and Python predictions agree.
        images = tf.cast(images, tf.float32)
        images = tf.image.resize(images, (height, width), antialias=True)
        return tf.clip_by_value(tf.round(images), 0.0, 255.0)

    archive = new_archive(model)

    def predict_probabilities(x):
        logits = model(x, training=False)
        return keras.ops.softmax(keras.ops.cast(logits, "float32"), axis=-1)

    probabilities_of = model_function(
        archive,
        "probabilities",
        predict_probabilities,
        [tf.TensorSpec([None, height, width, channels], tf.float32)],
    )

    def classify(images):
        probabilities = probabilities_of((images / 255.0 - mean) / std)
        batch = tf.shape(probabilities)[0]
        return {
            "probabilities": probabilities,
            "classes": tf.gather(names, tf.argmax(probabilities, axis=-1)),
            "class_names": tf.tile(names[None], [batch, 1]),
        }

    def serve(images):
        return classify(resize(images))

    def serve_bytes(image_bytes):
        def decode(data):
            # The decoding of training and `zoo predict`, so that all three
            # see the same pixels (and GIF, BMP, CMYK JPEG reach grey models).
            image = decode_image_tensor(data, channels)
            image.set_shape([None, None, channels])
            return resize(image[None])[0]

        images = tf.map_fn(
            decode,
            image_bytes,
            fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32),
        )
        return classify(images)

    add_serving_endpoint(
        archive,
        "serve",
        serve,
        input_signature=[
            tf.TensorSpec([None, None, None, channels], tf.uint8, name="images")
        ],
    )
    add_serving_endpoint(
        archive,
        "serve_bytes",
        serve_bytes,
        input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")],
    )
    return write_out(archive, path)
