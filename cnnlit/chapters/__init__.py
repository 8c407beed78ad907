"""The chapters' figures, one module per chapter: the views a notebook draws beyond the shared
tools. The experiments themselves (the model, the optimiser, the loop, what is recorded) are written
in the chapter's cells, where the student reads them; nothing here trains.

- :mod:`~cnnlit.chapters.foundations` (chapter 0): the three sets, SGD's path with and without
  momentum, learning-rate schedules;
- :mod:`~cnnlit.chapters.lenet` (chapter 1): Table I and the RBF codes drawn, C1/C3 feature maps of
  a digit;
- :mod:`~cnnlit.chapters.alexnet` (chapter 2): the dropout and local-response-normalisation views;
- :mod:`~cnnlit.chapters.zfnet` (chapter 3): the filter inspector (weights, feature map, deconvnet
  projection and top-9 patches of one filter) and the Fig. 2 gallery;
- :mod:`~cnnlit.chapters.vgg` (chapter 4): Table 1 as a DataFrame, per-layer memory and arithmetic,
  dense evaluation, and their figures;
- :mod:`~cnnlit.chapters.normalisation` (chapter 5): the signal's spread and distribution at every
  ReLU of a deep VGG, with and without batch norm, and VGG's layers by the paper's names;
- :mod:`~cnnlit.chapters.googlenet` (chapter 6): an Inception module's branches, Table 1's costs
  against the printed ones, the cost of the 1x1 reductions;
- :mod:`~cnnlit.chapters.resnet` (chapter 7): Table 1 regenerated from the code, gradients through
  plain and residual stacks, the training-error curves;
- :mod:`~cnnlit.chapters.transfer` (chapter 8): the parameters each way of transfer trains, the
  validation curves of the three ways, accuracy against the number of labels.

Each view is a plain function returning a matplotlib Figure or a pandas DataFrame: the notebook
calls it once for the static figure and wraps it in a control (:func:`cnnlit.widgets.control`);
out-of-range control values are clamped, never raised.
"""

__all__ = ["alexnet", "foundations", "googlenet", "lenet", "normalisation", "resnet", "transfer",
           "vgg", "zfnet"]
