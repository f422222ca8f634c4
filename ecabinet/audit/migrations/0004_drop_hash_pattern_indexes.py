from django.db import migrations

from ecabinet.dbops import DropPatternIndexes


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_checkpoint_append_only")]

    operations = [DropPatternIndexes("auditentry", ["entry_hash", "prev_hash"])]
