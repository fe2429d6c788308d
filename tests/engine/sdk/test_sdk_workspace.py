"""Azure ML's ways of opening a workspace in a control script: `Workspace(subscription_id,
resource_group, workspace_name, auth=...)` with a credential object opens the workspace
`from_config()` finds (the cloud ids and the sign-in mean nothing here)."""

from __future__ import annotations

from pathlib import Path

from engine.sdk import InteractiveLoginAuthentication, ServicePrincipalAuthentication, Workspace


def test_the_azure_constructor_and_credentials_open_this_workspace(ws_dir: Path) -> None:
    auth = InteractiveLoginAuthentication(tenant_id="00000000-0000-0000-0000-000000000000")
    ws = Workspace("sub-id", "my-rg", "my-ws", auth=auth)
    assert Path(ws.location).resolve() == ws_dir.resolve()
    ws2 = Workspace(
        subscription_id="sub-id",
        resource_group="rg",
        workspace_name="w",
        auth=ServicePrincipalAuthentication("tenant", "app", "secret"),
    )
    assert ws2.location == ws.location
    assert Workspace(ws_dir).location == ws.location  # a folder, as before
    assert auth.get_authentication_header() == {}
