from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Prints the current two-factor code of a user's authenticator (for demo logins and support)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is None:
            raise CommandError(f"{username} has no confirmed authenticator")
        self.stdout.write(f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}")
