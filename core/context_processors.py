def roles(request):
    """Expose the user's roles to templates (for the navigation)."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {"user_roles": set()}
    return {"user_roles": set(user.groups.values_list("name", flat=True))}
