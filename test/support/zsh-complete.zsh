# zsh -f zsh-complete.zsh DIR LINE
# Prints the matches that zsh's completion system offers at the end of LINE, one a line, with the
# completion functions of DIR first in $fpath: an interactive zsh in a pseudo-terminal (zsh/zpty)
# gets LINE and a Tab. Its compadd is wrapped to print each call's matches between two marker
# lines (compprefuncs, comppostfuncs), and the shell exits after the completion. The printed
# names are spelt so that the terminal's echo of these definitions does not hold them.
zmodload zsh/zpty || exit 2
zpty shell zsh -f -i
zpty -w shell "PROMPT= RPROMPT=; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D; bindkey '^I' complete-word"
zpty -w shell 'compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi; local -a m; builtin compadd -O m "$@"; (( $#m )) && print -rl -- ${:-MAT}CH:${^m}; builtin compadd "$@"; }'
zpty -w shell 'mark() { print -r -- ${:-MA}RK; }; compprefuncs=(mark); comppostfuncs=(mark exit)'
zpty -w -n shell "$2"$'\t'
integer marks=0
while zpty -r shell line; do
  line=${line%$'\r'*}
  if [[ $line == *MARK* ]]; then
    (( marks++ )) && break
  elif (( marks )) && [[ $line == *MATCH:* ]]; then
    print -r -- ${line##*MATCH:}
  fi
done
zpty -d shell
(( marks == 2 ))
