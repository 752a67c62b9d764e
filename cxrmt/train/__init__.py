"""Training (`cxrmt train`): the paper's losses in a `keras.Model.train_step` override, resumable
runs, validation, TensorBoard logs, tf.distribute strategies and mixed precision.

TensorFlow is imported only by `cxrmt.train.run` and the modules it loads, never here.
"""

from .config import TrainConfig
from .run import run_training

__all__ = ["TrainConfig", "run_training"]
