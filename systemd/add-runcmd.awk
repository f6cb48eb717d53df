# awk -v entry='[bash, /path/script.sh]' -f add-runcmd.awk user-data: the cloud-config with
# "- entry" added to its top-level runcmd list, after what is there (a block-style list,
# as Raspberry Pi Imager writes it), or in a new runcmd list at the end when it has none.
# A flow-style "runcmd: [...]" is not edited: exit status 1.
state == 1 && /^[^ \t#-]/ { print indent "- " entry; state = 2 }  # the next top-level key
state == 1 && /^[ \t]*-/ && !seen { match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH); seen = 1 }
{ print }
state == 0 && /^runcmd:/ {
    if ($0 !~ /^runcmd:[ \t]*(#.*)?$/) { failed = 1; exit 1 }
    state = 1
}
END {
    if (failed) exit 1
    if (state == 1) print indent "- " entry
    if (state == 0) { print "runcmd:"; print "- " entry }
}
