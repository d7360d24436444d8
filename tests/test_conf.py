"""Settings files: order, in-place changes, and errors that name the file and line."""

import pytest

from synnefo.common.conf import SettingsError, load_settings_dir


@pytest.fixture
def confdir(tmp_path):
    def write(name, text):
        (tmp_path / name).write_text(text)
        return tmp_path

    return write


def defaults():
    return {"ASTAKOS_IM_MODULES": ["local"], "LOGGING_SETUP": {"loggers": {}}, "SYNNEFO_BIND": None}


def test_files_apply_in_name_order_and_see_earlier_values(confdir):
    confdir("20-second.conf", "SYNNEFO_BIND = SYNNEFO_BIND + ':8080'\n")
    directory = confdir("10-first.conf", "SYNNEFO_BIND = 'example.org'\nhelper = 3\n")
    confdir("README", "this is not a settings file")
    settings = defaults()
    files = load_settings_dir(settings, directory)
    assert [f.name for f in files] == ["10-first.conf", "20-second.conf"]
    assert settings["SYNNEFO_BIND"] == "example.org:8080"
    assert "helper" not in settings


def test_in_place_changes_of_defaults(confdir):
    directory = confdir("10-logging.conf", "LOGGING_SETUP['loggers']['synnefo.api'] = {'level': 'DEBUG'}\n")
    settings = defaults()
    load_settings_dir(settings, directory)
    assert settings["LOGGING_SETUP"]["loggers"]["synnefo.api"] == {"level": "DEBUG"}


def test_django_settings_are_known(confdir):
    directory = confdir("10-mail.conf", "EMAIL_HOST = 'smtp.example.org'\n")
    settings = defaults()
    load_settings_dir(settings, directory)
    assert settings["EMAIL_HOST"] == "smtp.example.org"


@pytest.mark.parametrize(
    "text, message",
    [
        ("# comment\n\nASTAKOS_IM_MODULE = ['ldap']\n", "20-bad.conf:3: unknown setting ASTAKOS_IM_MODULE"),
        ("SYNNEFO_BIND = 'x'\nif True\n", "20-bad.conf:2: syntax error"),
        ("SYNNEFO_BIND = 'x'\nSYNNEFO_BIND = undefined_name\n", "20-bad.conf:2: NameError"),
    ],
)
def test_bad_files_name_file_and_line(confdir, text, message):
    confdir("10-good.conf", "SYNNEFO_BIND = 'ok'\n")
    directory = confdir("20-bad.conf", text)
    with pytest.raises(SettingsError) as err:
        load_settings_dir(defaults(), directory)
    assert message in str(err.value)


def test_missing_directory_is_fine(tmp_path):
    assert load_settings_dir(defaults(), tmp_path / "absent") == []


def test_a_bad_settings_file_stops_snf_manage_with_file_and_line(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "10-ok.conf").write_text("SYNNEFO_REGION_NAME = 'r1'\n")
    (tmp_path / "20-typo.conf").write_text("\nASTAKOS_AUTH_TOKEN_DURATON = 5\n")
    env = dict(os.environ, SYNNEFO_SETTINGS_DIR=str(tmp_path), SYNNEFO_DATA_DIR=str(tmp_path / "data"))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "-m", "synnefo.manage", "check"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"{tmp_path}/20-typo.conf:2: unknown setting ASTAKOS_AUTH_TOKEN_DURATON" in result.stderr
    assert "Traceback" not in result.stderr
