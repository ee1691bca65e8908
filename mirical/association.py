"""Image2 associations: build them like ``asn_from_list`` in the seed, load and check them.

The JSON layout is the one the seed notebook writes (and the official ``strun``
reads): asn_type image2, asn_rule DMSLevel2bBase, asn_pool, products with a
name and members {expname, exptype}; member paths are relative to the
association file's folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from mirical import __version__
from mirical.errors import MiricalError


@dataclass(frozen=True)
class Product:
    """One association product: a science exposure and its backgrounds (absolute paths)."""

    name: str
    science: str
    backgrounds: tuple[str, ...] = field(default_factory=tuple)


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
    """Products ``{name}_dither{N}`` (N from 1, sorted science order), every background in each."""
    backgrounds = tuple(sorted(os.path.abspath(b) for b in background))
    return [Product(f"{name}_dither{n}", os.path.abspath(s), backgrounds)
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(data, indent=4) + "\n")
    os.replace(tmp, path)


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
