"""openunmix.models.table: the built-in table of the published models."""

from openunmix.models import table as catalog


def test_builtin_table_lists_the_published_models():
    table = catalog.read_table(catalog.BUILTIN_TABLE)
    records = {"umx": "3370486", "umxhq": "3370489", "umxl": "5069601", "umxse": "3786908"}
    files = {
        "umx": ["bass-646024d3.pth", "drums-5a48008b.pth", "other-f8e132cc.pth", "vocals-c8df74a5.pth"],
        "umxhq": ["bass-8d85a5bd.pth", "drums-9619578f.pth", "other-b52fbbf7.pth", "vocals-b62c91ce.pth"],
        "umxl": ["bass-2ca1ce51.pth", "drums-69e0ebd4.pth", "other-c8c5b3e6.pth", "vocals-bccbd9aa.pth"],
        "umxse": ["noise_04a6fc2d.pth", "speech_f5e0d9f9.pth"],
    }
    assert sorted(table) == sorted(records)
    for name, entry in table.items():
        assert sorted(f.filename for f in entry.targets.values()) == files[name]
        for target, f in entry.targets.items():
            assert f.url == f"https://zenodo.org/records/{records[name]}/files/{f.filename}"
            assert f.filename.startswith(target) and f.filename[len(target) + 1 : -4].startswith(f.sha256[:8])
    for name in ("umx", "umxhq", "umxl"):
        e = table[name]
        o = e.options
        assert e.architecture == "umx"
        assert (e.sample_rate, e.n_fft, e.n_hop, e.nb_channels, o["nb_layers"], o["unidirectional"], o["max_bin"]) == \
            (44100, 4096, 1024, 2, 3, False, 1487)
        assert o["hidden_size"] == (1024 if name == "umxl" else 512)
        assert list(e.targets) == ["vocals", "drums", "bass", "other"]
    assert table["umxl"].restricted and "CC BY-NC-SA 4.0" in table["umxl"].license
    assert not table["umxhq"].restricted
    se = table["umxse"]
    assert (se.sample_rate, se.n_fft, se.n_hop, se.nb_channels, se.options["hidden_size"], se.options["max_bin"]) == \
        (16000, 1024, 512, 1, 256, 513)
    assert list(se.targets) == ["speech", "noise"]
    assert table["umxhq"].targets["vocals"].sha256 == "b62c91cedbc7a066f1778ead5b5cecb377aa3a46a31af1cce7c5c8769339d083"
    assert table["umxhq"].targets["drums"].sha256 == "9619578f885c54737cb0234f9f9a4a679ee4f31438fd77fd1dbe02bb16c2da0a"
