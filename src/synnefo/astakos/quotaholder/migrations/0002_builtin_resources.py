"""Register the resources of the bundled services (synnefo.astakos.quotaholder.resources)."""

from django.db import migrations


def register_builtin(apps, schema_editor):
    from synnefo.astakos.quotaholder.resources import BUILTIN, register

    register(apps.get_model("quotaholder", "Resource"), BUILTIN)


class Migration(migrations.Migration):
    dependencies = [("quotaholder", "0001_initial")]

    operations = [migrations.RunPython(register_builtin, migrations.RunPython.noop)]
