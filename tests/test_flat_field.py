"""flat_field pixel by pixel, as jwst 3.0.0's apply_flat_field treats each kind of flat pixel."""
import numpy as np
import pytest

from mirical.formats.dqflags import DO_NOT_USE, JUMP_DET, NO_FLAT_FIELD, PIXEL
from mirical.steps import flat_field

UNRELIABLE_FLAT = PIXEL["UNRELIABLE_FLAT"]
HOT = PIXEL["HOT"]
FLOATS = ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")

# One column per kind of flat pixel; science everywhere SCI 10, VAR_POISSON 4, VAR_RNOISE 1.
KINDS = {  # name: (flat value, flat ERR, flat DQ)
    "good": (2.0, 0.5, 0),
    "nan": (np.nan, 0.5, 0),
    "zero": (0.0, 0.5, 0),
    "no_flat_field_finite": (2.0, 0.5, NO_FLAT_FIELD),
    "unreliable": (4.0, 0.0, UNRELIABLE_FLAT),
    "err_nan": (2.0, np.nan, 0),
    "other_bit": (2.0, 0.5, HOT),
    "do_not_use_finite": (2.0, 0.5, DO_NOT_USE),
    "infinite": (np.inf, 0.5, 0),
}
COLUMN = {name: i for i, name in enumerate(KINDS)}


def apply_to_kinds(inverse: bool = False) -> dict[str, np.ndarray]:
    n = len(KINDS)
    flat, err, dq = (np.array([[k[i] for k in KINDS.values()]]) for i in range(3))
    science = {"SCI": np.full((1, n), 10.0, np.float32), "ERR": np.full((1, n), 9.0, np.float32),
               "DQ": np.full((1, n), JUMP_DET, np.uint32),
               "VAR_POISSON": np.full((1, n), 4.0, np.float32), "VAR_RNOISE": np.full((1, n), 1.0, np.float32)}
    return flat_field.apply(science, flat.astype(np.float32), err.astype(np.float32), dq.astype(np.uint32),
                            inverse=inverse)


@pytest.fixture(scope="module")
def out():
    return apply_to_kinds()


def values(out, kind):
    i = COLUMN[kind]
    return {name: float(out[name][0, i]) for name in FLOATS}, int(out["DQ"][0, i])


def test_good_flat_pixel(out):
    got, dq = values(out, "good")
    # 10/2 = 5; VAR_FLAT = 5^2 / 2^2 * 0.5^2 = 1.5625; VAR_POISSON 4/4; VAR_RNOISE 1/4;
    # ERR = sqrt(1 + 0.25 + 1.5625) = sqrt(2.8125)
    assert got == {"SCI": 5.0, "VAR_FLAT": 1.5625, "VAR_POISSON": 1.0, "VAR_RNOISE": 0.25,
                   "ERR": float(np.float32(np.sqrt(np.float32(2.8125))))}
    assert dq == JUMP_DET  # the science flags stay


@pytest.mark.parametrize("kind", ["nan", "zero"])
def test_nan_or_zero_flat_is_no_flat_field_and_do_not_use(out, kind):
    got, dq = values(out, kind)
    assert all(np.isnan(v) for v in got.values())
    assert dq == JUMP_DET | DO_NOT_USE | NO_FLAT_FIELD


def test_no_flat_field_with_a_finite_value_is_do_not_use(out):
    """The flat's DQ says NO_FLAT_FIELD: jwst adds DO_NOT_USE, so every float array is NaN."""
    got, dq = values(out, "no_flat_field_finite")
    assert all(np.isnan(v) for v in got.values())
    assert dq == JUMP_DET | DO_NOT_USE | NO_FLAT_FIELD


def test_unreliable_flat_is_only_carried_into_dq(out):
    got, dq = values(out, "unreliable")
    # 10/4 = 2.5; VAR_FLAT 0 (flat ERR 0); VAR_POISSON 4/16; VAR_RNOISE 1/16; ERR sqrt(0.3125)
    assert got == {"SCI": 2.5, "VAR_FLAT": 0.0, "VAR_POISSON": 0.25, "VAR_RNOISE": 0.0625,
                   "ERR": float(np.float32(np.sqrt(np.float32(0.3125))))}
    assert dq == JUMP_DET | UNRELIABLE_FLAT


def test_nan_flat_error_makes_the_pixel_do_not_use(out):
    """VAR_FLAT is NaN, and a NaN in any array is NaN in all and DO_NOT_USE (match_nans_and_flags)."""
    got, dq = values(out, "err_nan")
    assert all(np.isnan(v) for v in got.values())
    assert dq == JUMP_DET | DO_NOT_USE


def test_other_flat_bits_are_or_ed_and_the_pixel_stays_valid(out):
    got, dq = values(out, "other_bit")
    assert got["SCI"] == 5.0 and got["VAR_FLAT"] == 1.5625
    assert dq == JUMP_DET | HOT


def test_do_not_use_flat_pixel(out):
    got, dq = values(out, "do_not_use_finite")
    assert all(np.isnan(v) for v in got.values())
    assert dq == JUMP_DET | DO_NOT_USE


def test_infinite_flat_is_not_flagged(out):
    """jwst flags NaN and zero flats only: an infinite flat divides everything to 0."""
    got, dq = values(out, "infinite")
    assert got == {name: 0.0 for name in FLOATS}
    assert dq == JUMP_DET


def test_all_arrays_are_float32(out):
    assert all(out[name].dtype == np.float32 for name in FLOATS) and out["DQ"].dtype == np.uint32


def test_float32_arithmetic_in_the_official_order():
    """SCI /= f; VAR_FLAT = SCI^2 / f^2 * e^2; VAR_POISSON /= f^2, each rounded to float32."""
    s, f, e, vp = np.float32(51.67034), np.float32(1.9256955), np.float32(0.022974364), np.float32(47.48382)
    science = {"SCI": np.array([[s]]), "ERR": np.zeros((1, 1), np.float32), "DQ": np.zeros((1, 1), np.uint32),
               "VAR_POISSON": np.array([[vp]]), "VAR_RNOISE": np.array([[np.float32(1.0)]])}
    got = flat_field.apply(science, np.array([[f]]), np.array([[e]]), np.zeros((1, 1), np.uint32))
    sci = s / f
    f2 = f * f
    var_flat = sci * sci / f2 * (e * e)
    assert got["SCI"][0, 0] == sci
    assert got["VAR_FLAT"][0, 0] == var_flat == np.float32(0.1024753)
    assert got["VAR_POISSON"][0, 0] == vp / f2 == np.float32(12.80473)
    assert got["ERR"][0, 0] == np.sqrt(vp / f2 + np.float32(1.0) / f2 + var_flat)
    # The same formulas in float64, rounded once at the end, give other float32 values:
    wide = [float(x) for x in (s, f, e, vp)]
    assert np.float32((wide[0] / wide[1]) ** 2 * wide[2] ** 2 / wide[1] ** 2) != var_flat
    assert np.float32(wide[3] / wide[1] ** 2) != vp / f2


# Moved from tests/test_steps.py.
def _arrays(sci, var_p=None, var_r=None, dq=None):
    sci = np.asarray(sci, dtype=float)
    return {"SCI": sci, "ERR": np.zeros_like(sci),
            "DQ": np.zeros(sci.shape, np.uint32) if dq is None else np.asarray(dq, np.uint32),
            "VAR_POISSON": np.full(sci.shape, 4.0) if var_p is None else var_p,
            "VAR_RNOISE": np.full(sci.shape, 1.0) if var_r is None else var_r}


def test_flat_field_formulas():
    out = flat_field.apply(_arrays([[10.0, 6.0]]), np.array([[2.0, 0.5]]), np.array([[0.2, 0.05]]),
                           np.zeros((1, 2), np.uint32))
    # pixel 0: f = 2 -> SCI 5, VAR_P 4/4 = 1, VAR_R 1/4, VAR_FLAT = 25 * 0.04 / 4 = 0.25
    assert out["SCI"][0, 0] == pytest.approx(5.0)
    assert out["VAR_POISSON"][0, 0] == pytest.approx(1.0)
    assert out["VAR_RNOISE"][0, 0] == pytest.approx(0.25)
    assert out["VAR_FLAT"][0, 0] == pytest.approx(0.25)
    assert out["ERR"][0, 0] == pytest.approx(np.sqrt(1.5))
    # pixel 1: f = 0.5 -> SCI 12, VAR_P 16, VAR_R 4, VAR_FLAT = 144 * 0.0025 / 0.25 = 1.44
    assert out["SCI"][0, 1] == pytest.approx(12.0)
    assert out["VAR_FLAT"][0, 1] == pytest.approx(1.44)
    assert out["ERR"][0, 1] == pytest.approx(np.sqrt(21.44), rel=1e-6)


def test_flat_field_bad_flat_pixels_are_flagged_and_nan():
    flat = np.array([[np.nan, 0.0, 1.0, 1.0]])
    flat_dq = np.array([[0, 0, DO_NOT_USE, 0]], np.uint32)
    out = flat_field.apply(_arrays([[1.0, 2.0, 3.0, 4.0]]), flat, np.zeros((1, 4)), flat_dq)
    assert out["DQ"][0, 0] & (DO_NOT_USE | NO_FLAT_FIELD) == DO_NOT_USE | NO_FLAT_FIELD
    assert out["DQ"][0, 1] & (DO_NOT_USE | NO_FLAT_FIELD) == DO_NOT_USE | NO_FLAT_FIELD
    assert out["DQ"][0, 2] & DO_NOT_USE
    for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
        assert np.isnan(out[name][0, :3]).all(), name
        assert np.isfinite(out[name][0, 3]), name
    assert out["SCI"][0, 3] == 4.0 and out["DQ"][0, 3] == 0


def test_flat_field_nan_science_gets_do_not_use():
    out = flat_field.apply(_arrays([[np.nan, 1.0]], dq=[[0, JUMP_DET]]), np.ones((1, 2)),
                           np.zeros((1, 2)), np.zeros((1, 2), np.uint32))
    assert out["DQ"][0, 0] == DO_NOT_USE
    assert out["DQ"][0, 1] == JUMP_DET  # informational flags leave the data alone
    assert np.isnan(out["VAR_POISSON"][0, 0]) and out["SCI"][0, 1] == 1.0


# ----------------------------------------------------------------- inverse (jwst's flat_field inverse=True)
@pytest.fixture(scope="module")
def inverse_out():
    return apply_to_kinds(inverse=True)


def test_inverse_multiplies_by_the_flat(inverse_out):
    got, dq = values(inverse_out, "good")
    # 10*2 = 20; VAR_FLAT 0 (the flat's error is not used); VAR_POISSON 4*4; VAR_RNOISE 1*4;
    # ERR = sqrt(16 + 4), the flat's variance left out
    assert got == {"SCI": 20.0, "VAR_FLAT": 0.0, "VAR_POISSON": 16.0, "VAR_RNOISE": 4.0,
                   "ERR": float(np.float32(np.sqrt(np.float32(20.0))))}
    assert dq == JUMP_DET


def test_inverse_treats_bad_flat_pixels_as_the_forward_step(inverse_out):
    for kind in ("nan", "zero", "no_flat_field_finite", "do_not_use_finite"):
        got, dq = values(inverse_out, kind)
        assert all(np.isnan(v) for v in got.values()), kind
        assert dq & DO_NOT_USE, kind
    got, dq = values(inverse_out, "unreliable")  # a carried flag: 10*4, variances *16
    assert (got["SCI"], got["VAR_POISSON"], got["VAR_FLAT"], dq) == (40.0, 64.0, 0.0, JUMP_DET | UNRELIABLE_FLAT)
    got, _ = values(inverse_out, "err_nan")  # the flat's ERR is not used: the pixel stays valid
    assert got["SCI"] == 20.0 and got["ERR"] == float(np.float32(np.sqrt(np.float32(20.0))))


def test_inverse_undoes_the_flat_field():
    rng = np.random.default_rng(5)
    flat = rng.uniform(0.5, 2.0, (4, 5)).astype(np.float32)
    science = {"SCI": rng.uniform(1, 100, (4, 5)).astype(np.float32), "ERR": np.ones((4, 5), np.float32),
               "DQ": np.zeros((4, 5), np.uint32), "VAR_POISSON": rng.uniform(1, 2, (4, 5)).astype(np.float32),
               "VAR_RNOISE": np.full((4, 5), 0.5, np.float32)}
    zeros = np.zeros((4, 5), np.float32)
    flat_dq = np.zeros((4, 5), np.uint32)
    back = flat_field.apply(flat_field.apply(science, flat, zeros, flat_dq), flat, zeros, flat_dq, inverse=True)
    for name in ("SCI", "VAR_POISSON", "VAR_RNOISE"):
        np.testing.assert_allclose(back[name], science[name], rtol=3e-7)
    assert not back["VAR_FLAT"].any()
    assert back["SCI"].dtype == np.float32 and back["VAR_FLAT"].dtype == np.float32
