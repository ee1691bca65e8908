"""Atomic output: a fixed temporary name, renamed when complete, removed on error."""
import pytest

from mirical.formats.atomic import atomic_path


def test_written_under_the_temporary_name_then_renamed(tmp_path):
    target = tmp_path / "sub" / "x_cal.fits"
    with atomic_path(target) as tmp:
        assert tmp == tmp_path / "sub" / ".x_cal.fits.part"
        tmp.write_text("data")
        assert not target.exists()
    assert target.read_text() == "data" and not tmp.exists()


def test_an_error_leaves_neither_file(tmp_path):
    target = tmp_path / "x_cal.fits"
    with pytest.raises(ZeroDivisionError), atomic_path(target) as tmp:
        tmp.write_text("half")
        1 / 0
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writers_leftover_is_taken_over_by_the_rerun(tmp_path):
    target = tmp_path / "x_cal.fits"
    (tmp_path / ".x_cal.fits.part").write_text("partial, from a SIGKILLed job")
    with atomic_path(target) as tmp:
        tmp.write_text("complete")
    assert [p.name for p in tmp_path.iterdir()] == ["x_cal.fits"] and target.read_text() == "complete"
