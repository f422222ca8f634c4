from django.db import migrations

from ecabinet.dbops import DropPatternIndexes


class Migration(migrations.Migration):
    dependencies = [("voting", "0001_initial")]

    operations = [DropPatternIndexes("ballot", ["sha256", "nonce"])]
