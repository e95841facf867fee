from django.db import migrations


def versions_from_orders(apps, schema_editor):
    """Each order made before versions were kept becomes its version 1, with its lines and its
    production decision; its author is unknown (left empty)."""
    Order = apps.get_model("deals", "Order")
    OrderVersion = apps.get_model("deals", "OrderVersion")
    OrderVersionLine = apps.get_model("deals", "OrderVersionLine")
    for order in Order.objects.filter(versions__isnull=True).iterator(chunk_size=500):
        decided = order.production_status in ("approved", "declined")
        version = OrderVersion.objects.create(
            order=order,
            number=1,
            total=order.total,
            cost_total=order.cost_total,
            status=order.production_status,
            created_at=order.created_at,
            decided_by_id=order.production_decided_by_id if decided else None,
            decided_at=(order.production_decided_at or order.created_at) if decided else None,
            decision_comment=order.production_comment if decided else "",
        )
        OrderVersionLine.objects.bulk_create(
            OrderVersionLine(
                version=version, product_id=line.product_id, quantity=line.quantity, price=line.price, cost=line.cost
            )
            for line in order.lines.all()
        )


class Migration(migrations.Migration):
    # Its own transaction: the tables exist before the rows go in.
    dependencies = [("deals", "0013_order_versions")]

    operations = [migrations.RunPython(versions_from_orders, migrations.RunPython.noop)]
