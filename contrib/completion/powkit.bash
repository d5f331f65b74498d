# bash completion for powkit (installed as
# share/bash-completion/completions/powkit).

_powkit()
{
    local cur prev words cword
    _init_completion || return

    local commands="mine proxy bench verify-block verify-chain verify-headers verify-sigs devices selftest version help"
    if [[ $cword -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$commands --version --help" -- "$cur"))
        return
    fi

    local cmd=${words[1]} opts=""
    case $cmd in
    mine)
        opts="--url --user --pass --cert --insecure --no-extranonce --no-version-rolling
              --no-version-lanes --suggest-diff --allow-redirect --no-work-timeout --max-rejects
              --failback --node --address --payout-script --rpc-user --rpc-password --rpc-cookie
              --coinbase-tag --blocks --blocks-dir --gbt-refresh --threads --kernel --cpu-affinity
              --normal-priority --devices --cl-vector-width --cl-global --cl-launch-ms --config --log
              --status-interval --quiet --log-level --api-listen --duration --help --version
              --debug --log-file --syslog --algo --benchmark --userpass --coinbase-addr --timeout
              --retry-pause --retries --cgminer-api --api-allow --api-token --api-bind
              -o -u -p -t -c -l -q -h -V -a -O -T -R -r -D -S"
        case $prev in
        --config | -c | --cert | --rpc-cookie | --log-file | --log)
            _filedir
            return ;;
        --blocks-dir)
            _filedir -d
            return ;;
        --kernel)
            COMPREPLY=($(compgen -W "ref shani avx2 avx512 shani:2 shani:3 shani:4 shani:5 shani:8
                                     avx2:1 avx2:2 avx2:2r avx2:2l avx512:1 avx512:2 avx512:2r avx512:2l
                                     armsha armsha:1 armsha:2 armsha:3 armsha:4 neon neon:1 neon:2 neon:2r neon:2l" -- "$cur"))
            return ;;
        --algo | -a)
            COMPREPLY=($(compgen -W "sha256d" -- "$cur"))
            return ;;
        --log-level)
            COMPREPLY=($(compgen -W "error warn info debug" -- "$cur"))
            return ;;
        --cl-vector-width)
            COMPREPLY=($(compgen -W "1 2 4 8 16" -- "$cur"))
            return ;;
        --url | -o)
            COMPREPLY=($(compgen -W "stratum+tcp:// stratum+ssl://" -- "$cur"))
            compopt -o nospace
            return ;;
        --node)
            COMPREPLY=($(compgen -W "http://127.0.0.1:8332 http://127.0.0.1:18443" -- "$cur"))
            return ;;
        --user | -u | --pass | -p | --suggest-diff | --no-work-timeout | --max-rejects | --failback | \
        --address | --payout-script | --rpc-user | --rpc-password | --coinbase-tag | --blocks | \
        --gbt-refresh | --threads | -t | --devices | --cl-global | --cl-launch-ms | --log | -l | \
        --status-interval | --api-listen | --duration | --userpass | -O | --coinbase-addr | \
        --timeout | -T | --retry-pause | -R | --retries | -r | --cgminer-api | --api-allow | --api-token | --api-bind)
            return ;;
        esac ;;
    proxy)
        opts="--url --user --pass --quiet --listen --max-clients --share-rate --min-diff --start-diff
              --idle-timeout --max-line --conn-rate --api-listen --api-allow --api-token --status-interval
              --duration --cafile --insecure --pass-workers --listen-cert --listen-key --failback --help -o -u -p -q"
        case $prev in
        --cafile | --listen-cert | --listen-key)
            _filedir
            return ;;
        esac
        ;;
    bench)
        opts="--seconds --threads --kernel --cpu-affinity --json --no-opencl --no-version-lanes --recalibrate
              --help -t"
        case $prev in
        --kernel)
            COMPREPLY=($(compgen -W "ref shani avx2 avx512 shani:2 shani:3 shani:4 shani:5 shani:8
                                     avx2:1 avx2:2 avx2:2r avx2:2l avx512:1 avx512:2 avx512:2r avx512:2l
                                     armsha armsha:1 armsha:2 armsha:3 armsha:4 neon neon:1 neon:2 neon:2r neon:2l" -- "$cur"))
            return ;;
        --seconds | --threads | -t)
            return ;;
        esac ;;
    verify-block)
        opts="--json --chain --sigs --prevouts --policy --height --threads --engine --no-batch --help -t"
        case $prev in
        --chain)
            COMPREPLY=($(compgen -W "main test regtest" -- "$cur"))
            return ;;
        --engine)
            COMPREPLY=($(compgen -W "libsecp256k1 portable ifma" -- "$cur"))
            return ;;
        --prevouts)
            _filedir
            return ;;
        --height | --threads)
            return ;;
        esac ;;
    verify-chain)
        opts="--node --datadir --rpc-user --rpc-password --rpc-cookie --chain --db --memory --from --to --threads --dbcache --engine --no-batch --policy --json --help -t"
        case $prev in
        --chain)
            COMPREPLY=($(compgen -W "main regtest" -- "$cur"))
            return ;;
        --engine)
            COMPREPLY=($(compgen -W "libsecp256k1 portable ifma" -- "$cur"))
            return ;;
        --rpc-cookie)
            _filedir
            return ;;
        --db | --datadir)
            _filedir -d
            return ;;
        --node | --rpc-user | --rpc-password | --from | --to | --threads | --dbcache)
            return ;;
        esac ;;
    verify-headers)
        opts="--json --start-height --start-bits --chain --help"
        case $prev in
        --chain)
            COMPREPLY=($(compgen -W "main test regtest" -- "$cur"))
            return ;;
        --start-height | --start-bits)
            return ;;
        esac ;;
    verify-sigs)
        opts="--threads --engine --no-batch --lax-der --low-s --help -t"
        case $prev in
        --engine)
            COMPREPLY=($(compgen -W "libsecp256k1 portable ifma" -- "$cur"))
            return ;;
        --threads)
            return ;;
        esac ;;
    devices | version)
        opts="--json --help" ;;
    help)
        [[ $cword -eq 2 ]] && COMPREPLY=($(compgen -W "${commands% help}" -- "$cur"))
        return ;;
    selftest)
        opts="--recalibrate --help" ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        _filedir
    fi
} && complete -F _powkit powkit
