"""Convolutional classifiers: architecture arithmetic, the ``CNNClassifier`` estimator, figures."""
