from .models import Notification


def bell(request) -> dict:
    """The unread count for the bell in the top bar (one indexed count per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.unread().filter(recipient=user).count()}
