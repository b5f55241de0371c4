# The --scale at which the replay tests run each shipped scenario: small enough that each
# replays in seconds (token counts and byte sizes shrink; --max-ops 8 bounds the
# operation counts). Sourced by replay_test.sh and nic_line_rate_test.sh.
scale_of() {
  case "$(basename "$1")" in
    default.yaml) echo 0.25 ;;
    trillion-param-weight-broadcast.yaml) echo 0.00001 ;;
    *) echo 0.001 ;;
  esac
}
