from django.urls import path

from ecabinet.web import views

app_name = "web"

urlpatterns = [
    path("", views.home_view, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_totp_view, name="login-totp"),
    path("login/enrol/", views.enrol_totp_view, name="enrol-totp"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile_view, name="profile"),
    path("sessions/", views.sessions_view, name="sessions"),
    path("sessions/end-all/", views.sign_out_everywhere_view, name="sign-out-everywhere"),
    path("devices/<int:device_id>/revoke/", views.revoke_device_view, name="revoke-device"),
    path("security/sign-in-locks/", views.throttles_view, name="throttles"),
]
