"""Transformer zoo: reusable Keras 3 transformer layers, models and training.

Importing `zoo` is cheap: it does not import TensorFlow or Keras. Import the
sub-packages you need (`zoo.layers`, `zoo.models`, `zoo.data`, ...).
"""

__version__ = "0.1.0"
