# The imagefam rules benchmarked by bench/bench_peers.py, ported to Rego (v1 syntax) for regopy.
#
# Input document (what bench_peers.py marshals from the pydantic request and the Image dataclass):
#   {"action": "CreateImage", "caller": "<account>", "channel": "api",
#    "request": {<every request field, null when unset>},
#    "image":   {<every Image field; CreationTime as ISO-8601>} or null}
#
# Semantics follow imagefam/policy/naming.rules and lifecycle.rules. family-name-format: imagefam
# anchors with Python's \Z; here `$` already means the very end of the text (no multi-line mode).
# Known difference: regopy's regex character classes match UTF-8 bytes, not characters, so
# [一-龥] also takes e.g. "é", and {1,127} counts bytes (bench_peers.py reports these inputs).
package imagefam

# def is_set(name: string) = name != null and name != ""
is_set(name) if {
	name != null
	name != ""
}

# def is_shared(img: Image) = count(img.SharedWith) > 0 or img.IsPublic
is_shared(img) if count(img.SharedWith) > 0

is_shared(img) if img.IsPublic == true

# rule family-name-acs-prefix (CreateImage, ModifyImageAttribute)
default family_name_acs_prefix := false

family_name_acs_prefix if {
	f := input.request.ImageFamily
	is_set(f)
	startswith(f, "acs")
}

# rule family-name-reserved (CreateImage, ModifyImageAttribute)
default family_name_reserved := false

family_name_reserved if {
	f := input.request.ImageFamily
	is_set(f)
	startswith(f, "aliyun")
}

family_name_reserved if {
	f := input.request.ImageFamily
	is_set(f)
	contains(f, "http://")
}

family_name_reserved if {
	f := input.request.ImageFamily
	is_set(f)
	contains(f, "https://")
}

# rule family-name-format (CreateImage, ModifyImageAttribute)
default family_name_format := false

family_name_format if {
	f := input.request.ImageFamily
	is_set(f)
	not regex.match(`^[A-Za-z一-龥][A-Za-z0-9一-龥.:_-]{1,127}$`, f)
}

# rule unshare-before-deprecate (ModifyImageAttribute)
default unshare_before_deprecate := false

unshare_before_deprecate if {
	input.request.Status == "Deprecated"
	input.image != null
	is_shared(input.image)
}

# The CreateImage decision: every deny rule of the action that needs no state snapshot
# (the quota rules need the images; create-assumed-available is an info note, not a deny).
create_image_deny contains "family-name-acs-prefix" if family_name_acs_prefix

create_image_deny contains "family-name-reserved" if family_name_reserved

create_image_deny contains "family-name-format" if family_name_format
