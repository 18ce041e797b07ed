"""Real Spark runs: a Spark Standalone cluster on this machine and the Chainer-on-MNIST job."""
