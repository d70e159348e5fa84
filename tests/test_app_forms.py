"""The app's forms and staging, without a browser: fields from declarations, specs from values."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vampkit import plugins
from vampkit.app import forms, public_warning, session
from vampkit.audio import save_audio
from vampkit.errors import AudioError, ParameterError
from vampkit.masks import build_mask_generator


def test_every_registered_generator_gets_a_field_per_declared_parameter():
    from vampkit.params import describe

    for name, cls in plugins.mask_generators().items():
        assert [f.name for f in forms.generator_fields(name)] == [p.name for p in describe(cls)]


def test_fields_carry_types_defaults_ranges_and_docs():
    fields = {f.name: f for f in forms.generator_fields("periodic")}
    assert fields["period"].kind == "int" and fields["period"].default == 7 and fields["period"].doc
    assert fields["random_offset"].kind == "bool"
    dropout = {f.name: f for f in forms.generator_fields("dropout")}
    assert dropout["p"].minimum == 0 and dropout["p"].maximum == 1
    assert dropout["unit"].kind == "choice" and set(dropout["unit"].choices) == {"frame", "token"}
    assert dropout["mask"].kind == "text"  # nested masks are edited as YAML


@settings(max_examples=40, deadline=None)
@given(period=st.integers(1, 64), width=st.integers(0, 8), offset=st.integers(0, 64), rnd=st.booleans())
def test_a_layer_spec_round_trips_through_its_form_values(period, width, offset, rnd):
    assume(width <= period)  # periodic refuses a window wider than its period
    spec = forms.layer_spec("periodic", {"period": period, "width": width, "offset": offset, "random_offset": rnd})
    name, values = forms.layer_values(spec)
    assert name == "periodic" and values == {"period": period, "width": width, "offset": offset, "random_offset": rnd}
    build_mask_generator(spec)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["periodic", "codebooks", {"random": {"p": 0.3}}, {"prefix": {"seconds": 0.5}}]),
                min_size=1, max_size=3), st.sampled_from(["any-of", "all-of"]))
def test_compose_and_decompose_are_inverse(layers, combinator):
    spec = forms.compose(combinator, layers)
    got_combinator, got_layers = forms.decompose(spec, 3)
    assert got_layers == layers
    if len(layers) > 1:
        assert got_combinator == combinator


def test_widget_values_that_cannot_be_parameters_name_the_field():
    period = next(f for f in forms.generator_fields("periodic") if f.name == "period")
    with pytest.raises(ParameterError, match="periodic: period: expected an integer"):
        forms.from_widget("periodic", period, 2.5)


def test_an_upload_is_copied_under_a_name_of_our_making(tmp_path):
    source = tmp_path / "..evil name;rm -rf.wav"
    save_audio(source, torch.sin(torch.linspace(0, 300, 8000)).unsqueeze(0) * 0.5, 8000)
    upload = session.stage_upload(source, tmp_path / "app" / "uploads")
    assert upload.path.parent == tmp_path / "app" / "uploads"
    assert upload.path.name.startswith("upload-") and upload.path.suffix == ".wav"


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "cannot be read"),
    (None, "silent"),
])
def test_bad_uploads_get_a_message(tmp_path, content, message):
    source = tmp_path / "in.wav"
    if content is None:
        save_audio(source, torch.zeros(1, 8000), 8000)
    else:
        source.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        session.stage_upload(source, tmp_path / "uploads")
    assert not list((tmp_path / "uploads").iterdir())  # nothing left behind


def test_a_long_upload_is_offered_a_region(tmp_path):
    source = tmp_path / "long.wav"
    save_audio(source, torch.sin(torch.linspace(0, 3000, 8000 * 5)).unsqueeze(0) * 0.5, 8000)
    upload = session.stage_upload(source, tmp_path / "uploads", max_seconds=2.0)
    assert "first 2 s" in upload.notice
    assert session.region_problem(0.0, None, upload, 2.0).startswith("the region is 5.0 s long")
    assert session.region_problem(1.0, 2.0, upload, 2.0) is None


def test_public_binding_and_share_links_warn():
    assert public_warning("127.0.0.1", False) is None
    assert "anyone who can reach" in public_warning("0.0.0.0", False)
    assert "public gradio.live link" in public_warning("127.0.0.1", True)


def test_vampkit_does_not_import_gradio():
    code = "import vampkit, vampkit.cli, vampkit.app, sys; print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_taken_port_is_one_clear_error_and_leaves_no_temporary_folder(tiny_weights_option, tmp_path, monkeypatch):
    import socket
    import tempfile

    from vampkit.app import serve
    from vampkit.errors import AppError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the app's temporary folder lands here
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AppError, match=rf"cannot serve on 127\.0\.0\.1:{port}: .*choose another --port"):
            serve(tiny_weights_option, device="cpu", host="127.0.0.1", port=port, block=False, quiet=True)
    assert not list(tmp_path.glob("vampkit-app-*"))
