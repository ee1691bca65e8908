"""Image2 associations: build them like ``asn_from_list`` in the seed, load and check them.

The JSON layout is the one the seed notebook writes (and the official ``strun``
reads): asn_type image2, asn_rule DMSLevel2bBase, asn_pool, products with a
name and members {expname, exptype}; member paths are relative to the
association file's folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mirical import __version__
from mirical.errors import MiricalError
from mirical.formats.atomic import atomic_path


#: How a file with one image per integration (3-D SCI) ends: ``_rateints.fits`` (its product is ``_calints.fits``).
RATEINTS = re.compile(r"_rateints\.fits(\.gz)?$", re.IGNORECASE)


def is_rateints(path: str | os.PathLike) -> bool:
    """True for a ``_rateints.fits`` file (one slope image per integration), by its name."""
    return bool(RATEINTS.search(os.path.basename(str(path))))


@dataclass(frozen=True)
class Product:
    """One association product: a science exposure and its backgrounds (absolute paths)."""

    name: str
    science: str
    backgrounds: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ints(self) -> bool:
        """The science member is a rateints file: calibrated per integration to ``_calints.fits``, no i2d."""
        return is_rateints(self.science)


def association_dict(products: list[Product], name: str, relative_to: str | os.PathLike) -> dict:
    """The image2 association for ``products``, member paths relative to ``relative_to``."""
    base = Path(relative_to)

    def rel(path: str) -> str:
        return os.path.relpath(path, base)

    return {
        "asn_type": "image2",
        "asn_rule": "DMSLevel2bBase",
        "version_id": None,
        "code_version": f"mirical {__version__}",
        "degraded_status": "No known degraded exposures in association.",
        "program": "noprogram",
        "constraints": "none",
        "asn_id": "a3001",
        "target": "none",
        "asn_pool": f"{name}_pool",
        "products": [
            {
                "name": p.name,
                "members": [{"expname": rel(p.science), "exptype": "science"}]
                + [{"expname": rel(b), "exptype": "background"} for b in p.backgrounds],
            }
            for p in products
        ],
    }


def products_from_lists(science: list[str], background: list[str], name: str) -> list[Product]:
    """Products ``{name}_dither{N}`` (N from 1, sorted science order), every background of the same kind
    in each: rateints backgrounds for rateints science, rate backgrounds for rate science (the official
    background step combines members of the science's dimensionality only)."""
    backgrounds = sorted(os.path.abspath(b) for b in background)
    return [Product(f"{name}_dither{n}", os.path.abspath(s),
                    tuple(b for b in backgrounds if is_rateints(b) == is_rateints(s)))
            for n, s in enumerate(sorted(science, key=os.path.abspath), start=1)]


def make_association(science: list[str], background: list[str], name: str,
                     path: str | os.PathLike | None = None) -> dict:
    """Build (and, with ``path``, write) the image2 association, like the seed's ``asn_from_list``."""
    products = products_from_lists(science, background, name)
    folder = Path(path).parent if path else Path.cwd()
    asn = association_dict(products, name, folder)
    if path:
        write_json(asn, path)
    return asn


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Write JSON atomically (temporary name, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=4) + "\n")


def load_association(path: str | os.PathLike, check_files: bool = True) -> list[Product]:
    """Read and validate an image2 association; member paths become absolute."""
    path = Path(path)
    try:
        asn = json.loads(path.read_text())
    except FileNotFoundError:
        raise MiricalError(str(path), "association file does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MiricalError(str(path), f"not a valid association JSON ({exc})") from None
    if not isinstance(asn, dict) or not isinstance(asn.get("products"), list) or not asn["products"]:
        raise MiricalError(str(path), "association has no 'products' list")
    folder = path.parent
    products = []
    seen = set()
    for i, prod in enumerate(asn["products"]):
        if not isinstance(prod, dict) or not isinstance(prod.get("members"), list):
            raise MiricalError(str(path), f"product {i + 1} has no 'members' list")
        name = prod.get("name") or f"product{i + 1}"
        check_product_name(str(name), str(path))
        if name in seen:
            raise MiricalError(str(path), f"product name {name!r} appears twice")
        seen.add(name)
        science, backgrounds = [], []
        for member in prod["members"]:
            if not isinstance(member, dict) or "expname" not in member:
                raise MiricalError(str(path), f"product {name}: a member has no 'expname'")
            exptype = str(member.get("exptype", "science")).lower()
            expname = os.path.normpath(folder / str(member["expname"]))
            if check_files and not os.path.isfile(expname):
                raise MiricalError(str(path), f"product {name}: member {member['expname']} does not exist")
            if exptype == "science":
                science.append(os.path.abspath(expname))
            elif exptype == "background":
                backgrounds.append(os.path.abspath(expname))
        if len(science) != 1:
            raise MiricalError(str(path), f"product {name} has {len(science)} science members, expected exactly one")
        products.append(Product(str(name), science[0], tuple(backgrounds)))
    return products


def check_product_name(name: str, source: str) -> None:
    """Product names become file names: refuse anything that could leave the output folder."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith(".") \
            or any(c.isspace() for c in name):
        raise MiricalError(source, f"product name {name!r} is not a plain file name "
                                   "(no '/', '..', spaces or leading '.')")


# What the config schema allows for `name` (schemas/config.schema.yaml).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
ASN_SUFFIXES = ("_lvl2_asn.json", "_asn.json")
DEMO_NAME = "demo"


def run_name(name: str | None, association: str | os.PathLike | None = None,
             science: Sequence[str | os.PathLike] = ()) -> str:
    """The run's name (``{name}_i2d.fits``, ``results/{name}/``) when the config gives none.

    In order: ``name`` if given; for an association, its file name without
    ``_lvl2_asn.json``/``_asn.json``, else its ``asn_id``; for a science list, the
    common start of the file names cut at their last ``_``/``-``/``.`` (one file: its
    name without ``_rate.fits`` or ``_rateints.fits``); with neither, the demo's ``demo``.
    """
    if name is not None:
        return name
    if association is not None:
        return _association_name(Path(association))
    if science:
        return _science_name([Path(s).name for s in science])
    return DEMO_NAME


def _association_name(path: Path) -> str:
    for suffix in ASN_SUFFIXES:
        if path.name.endswith(suffix) and NAME_PATTERN.match(path.name[:-len(suffix)]):
            return path.name[:-len(suffix)]
    try:
        asn_id = json.loads(path.read_text()).get("asn_id")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        asn_id = None  # load_association reports what is wrong with the file itself
    if isinstance(asn_id, str) and NAME_PATTERN.match(asn_id):
        return asn_id
    raise MiricalError(str(path), "cannot name the run: the file name does not end in _lvl2_asn.json or "
                                  "_asn.json and there is no usable asn_id; set `name` in the config "
                                  "(--config name=... or mirical run --name ...)")


def _science_name(files: list[str]) -> str:
    stems = [re.sub(r"(_rate|_rateints)?\.fits(\.gz)?$", "", f, flags=re.IGNORECASE) for f in files]
    prefix = os.path.commonprefix(stems)
    if any(len(stem) > len(prefix) and stem[len(prefix)] not in "_.-" for stem in stems):
        prefix = re.sub(r"[^_.-]*$", "", prefix)  # no part-token: "..._0000" of _00001, _00002
    prefix = prefix.rstrip("_.-+")
    if NAME_PATTERN.match(prefix):
        return prefix
    raise MiricalError("config science", f"cannot name the run: the science file names ({', '.join(sorted(files))}) "
                                         "have no common start; set `name` in the config (--config name=... or "
                                         "mirical run --name ...)")
