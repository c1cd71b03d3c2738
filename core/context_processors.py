def roles(request):
    """Expose the user's roles to templates (for the navigation)."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {"user_roles": set()}
    return {"user_roles": set(user.groups.values_list("name", flat=True))}


#: The cookie that remembers the elderly-friendly display (适老化模式) for a year.
ELDER_COOKIE = "chengnuo_elder"


def display_mode(request):
    """``elder_mode`` for the base layout: large type and a simple layout when chosen.

    Read on the server from a cookie, so the very first render of every page is already large.
    """
    return {"elder_mode": request.COOKIES.get(ELDER_COOKIE) == "1"}
