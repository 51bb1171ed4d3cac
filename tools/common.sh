# Helpers shared by the tools/*.sh pipelines; sourced from the repository root, not run.
# name_of CONFIG [OVERRIDE...]: the run name (folder under $HEADPOSE_RUNS) of a config.
# train CONFIG [OVERRIDE...]: resumable training (a finished run is kept, a killed one
#   continues); EXTRA adds overrides to every run.
# side_by_side CMD ARG...: runs CMD ARG... LINE for each line of stdin, JOBS at a time, the cores
#   shared out (OMP_NUM_THREADS); fails if any fails.
# config_path CONFIG KEY: the file a config's KEY (e.g. semi.pseudo_labels) names, resolved as
#   training resolves it (empty if unset).
name_of() { headpose-train --config "$1" --print-config "${@:2}" | sed -n 's/^name: //p'; }
train() {
    local out; out="$HEADPOSE_RUNS/$(name_of "$@")"
    if [ -f "$out/last.pt" ]; then headpose-train --config "$@" --resume runtime.progress=false ${EXTRA:-}
    else headpose-train --config "$@" runtime.progress=false ${EXTRA:-}; fi
}
JOBS=${JOBS:-1}
threads=$(( $(nproc) / JOBS )); [ "$threads" -ge 1 ] || threads=1
side_by_side() {
    local pids=() line status=0
    while read -r line; do
        if [ "$JOBS" -gt 1 ]; then OMP_NUM_THREADS=$threads "$@" $line </dev/null & pids+=($!)
        else "$@" $line </dev/null || status=1; fi
        if [ "${#pids[@]}" -ge "$JOBS" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
    done
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    return $status
}
config_path() {
    python -c 'import operator, sys; from headpose.training.config import load_config, expand_path
cfg = load_config(sys.argv[1]); value = operator.attrgetter(sys.argv[2])(cfg)
print(expand_path(value, cfg) if value else "")' "$@"
}
