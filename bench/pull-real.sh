# bench/pull-real.sh: the "pull" row, through the real borgpull-server BACKUP (sourced).
# Filled in once borgpull-server / borgpull-client land in main.
pull_real_available() { return 1; }
pull_real_setup() { die "borgpull-server/borgpull-client are not built in this tree yet"; }
pull_real_borg_user() { echo root; }
pull_real_run() { die "pull: not available"; }
