"""Datasets: one in-memory ``Dataset`` type, loaders behind ``load_dataset``, stratified splits.

>>> from leapfactual.data import load_dataset, train_test_split
>>> data = load_dataset("mnist5k")                      # doctest: +SKIP
>>> train, test = train_test_split(data, test_fraction=0.2, seed=0)  # doctest: +SKIP

``register_dataset`` adds a loader to ``load_dataset`` (the registry is open).
"""

from leapfactual.data.builtin import load_digits, load_mnist5k
from leapfactual.data.classes import FASHION_MNIST_CLASSES, GALAXY10_CLASSES, MNIST_CLASSES
from leapfactual.data.confounded import (
    NUISANCES,
    ConfoundedTask,
    add_nuisance,
    confounded_digits,
    load_confounded,
    load_confounded_test,
    nuisance_mask,
    remove_nuisance,
)
from leapfactual.data.dataset import Dataset, images_from_uint8
from leapfactual.data.folder import (
    ASPECTS,
    ImageInputs,
    aspect_note,
    find_image_inputs,
    folder_aspect_note,
    load_image_files,
    load_image_folder,
    load_image_inputs,
    read_images,
)
from leapfactual.data.galaxy10 import load_galaxy10
from leapfactual.data.idx import FASHION_MNIST_DIR, load_fashion_mnist, load_idx, read_idx
from leapfactual.data.registry import (
    DEFAULT_DATASET,
    available_datasets,
    load_dataset,
    register_dataset,
)
from leapfactual.data.shapes import SHAPE_CLASSES, colour_shapes
from leapfactual.data.split import stratified_split, train_test_split
from leapfactual.data.stroke import StrokeTask, load_stroke_thickness, stroke_task
from leapfactual.data.thickness import (
    ThicknessLevels,
    ThicknessRule,
    ThicknessTask,
    load_thickness,
    load_thickness_task,
    thickness_task,
)

__all__ = [
    "ASPECTS",
    "DEFAULT_DATASET",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "GALAXY10_CLASSES",
    "MNIST_CLASSES",
    "NUISANCES",
    "SHAPE_CLASSES",
    "ConfoundedTask",
    "Dataset",
    "ImageInputs",
    "StrokeTask",
    "ThicknessLevels",
    "ThicknessRule",
    "ThicknessTask",
    "add_nuisance",
    "aspect_note",
    "available_datasets",
    "colour_shapes",
    "confounded_digits",
    "find_image_inputs",
    "folder_aspect_note",
    "images_from_uint8",
    "load_confounded",
    "load_confounded_test",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_galaxy10",
    "load_idx",
    "load_image_files",
    "load_image_folder",
    "load_image_inputs",
    "load_mnist5k",
    "load_stroke_thickness",
    "load_thickness",
    "load_thickness_task",
    "nuisance_mask",
    "read_idx",
    "read_images",
    "register_dataset",
    "remove_nuisance",
    "stratified_split",
    "stroke_task",
    "thickness_task",
    "train_test_split",
]
