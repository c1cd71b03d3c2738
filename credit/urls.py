app_name = "credit"

urlpatterns = []
