def run_checks(survey, *, quick=False, exclude_pids=()):
    return []
