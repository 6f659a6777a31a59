#!/bin/sh
# An example agent for `fleet-hive dispatch MISSION --agent 'sh examples/agent.sh'`.
#
# dispatch runs it once per try of a sortie, in the repository root, with the sortie's
# prompt on stdin and FLEET_MISSION_ID, FLEET_SORTIE_ID, FLEET_SPECIALIST, FLEET_ACTOR,
# FLEET_REPO (and FLEET_ATTEMPT, FLEET_SPECIALIST_KIND) in the environment. Exit 0 completes
# the sortie; any other status fails this try (dispatch retries it, then fails it).
#
# With AGENT_CLI set (e.g. AGENT_CLI='claude -p' or AGENT_CLI='codex exec -'), the prompt
# is handed to that command-line client, which does the work; its exit status is ours.
# Without it, this stand-in writes the task to notes/<sortie>.md, so the example runs
# anywhere. FLEET_HIVE overrides how fleet-hive is called (default: fleet-hive).
set -u
fh="${FLEET_HIVE:-fleet-hive}"
prompt=$(cat)
task=$(printf '%s\n' "$prompt" | sed -n 's/^# Your task: //p' | head -n 1)

$fh sortie progress "$FLEET_SORTIE_ID" --percent 10 --note "read the prompt" >/dev/null

if [ -n "${AGENT_CLI:-}" ]; then
    if printf '%s\n' "$prompt" | sh -c "$AGENT_CLI"; then
        status=0
    else
        status=$?
        echo "agent: $AGENT_CLI exited $status" >&2
    fi
else
    mkdir -p notes
    printf '# %s\n\nDone by %s (try %s) for mission %s.\n' "$task" "$FLEET_ACTOR" \
        "${FLEET_ATTEMPT:-1}" "$FLEET_MISSION_ID" > "notes/$FLEET_SORTIE_ID.md"
    status=0
fi

if [ "$status" -eq 0 ]; then
    $fh sortie progress "$FLEET_SORTIE_ID" --percent 100 --note "done: $task" >/dev/null
fi
exit "$status"
