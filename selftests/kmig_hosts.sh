# SPDX-License-Identifier: GPL-2.0
#
# Two "hosts" inside the test VM: network namespaces joined by a veth pair.
# host a is 10.77.0.1, host b is 10.77.0.2. Source this file, then:
#   hosts_up        create them (returns non-zero if it cannot)
#   on a|b CMD...   run CMD on a host
#   hosts_down      remove them

hosts_up() {
	modprobe veth 2>/dev/null || return 1
	unshare -n sleep 100000 & HOST_A=$!
	unshare -n sleep 100000 & HOST_B=$!
	sleep 1
	# busybox ip names the peer veth0 whatever it is told; iproute2 obeys.
	ip link add kmig-a type veth peer name kmig-b || return 1
	ip link show kmig-b >/dev/null 2>&1 || ip link set veth0 name kmig-b
	ip link set kmig-a netns "$HOST_A" || return 1
	ip link set kmig-b netns "$HOST_B" || return 1
	on a sh -c 'ip link set lo up; ip addr add 10.77.0.1/24 dev kmig-a; ip link set kmig-a up'
	on b sh -c 'ip link set lo up; ip addr add 10.77.0.2/24 dev kmig-b; ip link set kmig-b up'
}

on() {
	case $1 in
	a) pid=$HOST_A ;;
	b) pid=$HOST_B ;;
	*) echo "on: no host $1" >&2; return 1 ;;
	esac
	shift
	nsenter -t "$pid" -n "$@"
}

hosts_down() {
	kill "$HOST_A" "$HOST_B" 2>/dev/null
	wait "$HOST_A" "$HOST_B" 2>/dev/null
	HOST_A= HOST_B=
}
