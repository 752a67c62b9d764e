"""Training (`cxrmt train`): the paper's losses in a `keras.Model.train_step` override, resumable
runs, validation, TensorBoard logs, tf.distribute strategies and mixed precision.

`cxrmt.train.run.run_training` trains; this package's own import stays light (the CLI reads
`TrainConfig` to build its parser), and TensorFlow loads only when a run starts.
"""

from .config import TrainConfig

__all__ = ["TrainConfig"]
