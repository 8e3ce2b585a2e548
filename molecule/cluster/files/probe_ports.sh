# Probe TCP ports from where this runs: bash -c "$(cat probe_ports.sh)" probe <addr:port>...
# Prints "<addr:port> open|refused|filtered" per target, all probed at once. filtered: no
# answer within 3 s (the firewall drops the SYN); refused: a reset (the firewall let it
# through to a port nothing listens on); open: connected.
for target in "$@"; do
  (
    timeout 3 bash -c 'exec 3<>"/dev/tcp/${0%:*}/${0##*:}"' "$target" 2>/dev/null
    case $? in
      0) state=open ;;
      124) state=filtered ;;
      *) state=refused ;;
    esac
    echo "$target $state"
  ) &
done
wait
