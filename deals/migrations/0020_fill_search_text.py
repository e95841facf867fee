"""Fills the search text of the clients and contacts already in the base (deals.search)."""

from django.db import migrations

BATCH = 500


def fill_search_text(apps, schema_editor):
    from deals.search import client_search_text, contact_search_text

    Client = apps.get_model("deals", "Client")
    Contact = apps.get_model("deals", "Contact")
    ids = list(Client.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        clients = list(
            Client.objects.filter(pk__in=ids[start : start + BATCH]).prefetch_related("phones", "contacts")
        )
        for client in clients:
            client.search_text = client_search_text(
                client,
                phones=[phone.number for phone in client.phones.all()],
                contacts=list(client.contacts.all()),
            )
        Client.objects.bulk_update(clients, ["search_text"])
    contacts = list(Contact.objects.all())
    for contact in contacts:
        contact.search_text = contact_search_text(contact)
    Contact.objects.bulk_update(contacts, ["search_text"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0019_search_text_and_extensions"),
    ]

    operations = [
        migrations.RunPython(fill_search_text, migrations.RunPython.noop, elidable=True),
    ]
