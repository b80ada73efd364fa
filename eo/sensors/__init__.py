"""Sensor profiles as data: one YAML file per sensor, validated and indexed.

Packaged profiles live next to this module (``eo/sensors/*.yaml``); users add or override
profiles with YAML files in the directories of ``EO_SENSOR_PATH``.  The records are defined
in :mod:`eo.sensors.model`; nothing downstream reads the YAML.

>>> import eo.sensors
>>> eo.sensors.get("sentinel-2-msi").band("red").name
'B04'
>>> profile, product = eo.sensors.get_product("landsat-8-oli-tirs:c2-l2")
>>> product.state
'surface_reflectance'
"""

from __future__ import annotations

from eo.sensors.identify import SENSOR_PROPERTY, identify
from eo.sensors.model import MASK_CLASSES, Band, BandCalibration, BitField, Product, QADecoding, SensorProfile
from eo.sensors.registry import clear_cache, get, get_product, load_profile, profiles

__all__ = [
    "MASK_CLASSES",
    "SENSOR_PROPERTY",
    "Band",
    "BandCalibration",
    "BitField",
    "Product",
    "QADecoding",
    "SensorProfile",
    "clear_cache",
    "get",
    "get_product",
    "identify",
    "load_profile",
    "profiles",
]
