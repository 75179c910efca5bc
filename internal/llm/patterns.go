package llm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The patterns Detect looks for. Word patterns are written in a small phrase language and matched
// against the word view of folded text (lower-case ASCII words separated by single spaces):
//
//	word          the word itself; a pattern "l" also matches "i" (leet "1" is read as "i")
//	a|b|two_words one of the alternatives; _ stands for a space between words
//	x?            the slot may be left out (never the last slot)
//	~N            up to N other words
//
// Symbol patterns are regular expressions over the symbol view (folded text, punctuation kept,
// white space collapsed), for chat-template tokens and role labels.
//
// Weights: 0.7 and more for phrases that on their own are an instruction to an AI; 0.3 to 0.55
// for phrases that also occur in benign text and only count together with others.

type wordPattern struct {
	id     string
	weight float64
	phrase string
	// squash also matches the phrase in text whose words were spaced out or cut into pieces.
	squash bool
	// notAfter cancels a match followed directly by one of these words.
	notAfter []string

	re, sq *regexp.Regexp
	// anchors are words one of which every match holds; span bounds a match's length.
	anchors, sqAnchors []string
	span, sqSpan       int
}

type symbolPattern struct {
	id     string
	weight float64
	expr   string
	// needs are strings one of which every match holds; span bounds a match's length.
	needs []string
	span  int

	re *regexp.Regexp
}

const (
	strongNouns    = "instructions|instruction|prompts|prompt|system_prompt|directives|guidelines|guidance|guardrails|programming|safeguards|training|conditioning"
	weakNouns      = "rules|directions|context|constraints|restrictions|policies|filters|limitations|orders|commands"
	aiNames        = "ai|llm|llms|language_model|large_language_model|chatbot|gpt|chatgpt|claude|copilot|gemini|ai_agent|ai_assistant|ai_model|ai_system|soc_ai|ai_analyst|analyst_ai|automated_analyst|security_ai|security_assistant|soc_assistant|virtual_analyst|soc_bot|security_bot|analyst_bot|security_analyst_bot|triage_bot|triage_ai|triage_assistant|ai_triage|automated_triage|security_copilot|ai_investigator|automated_investigator"
	verdictsStrong = "false_positive|false_positives|a_false_positive|fp|benign|harmless|non_malicious|nonmalicious|not_malicious|no_threat|not_a_threat|low_severity|low_risk|low_priority|informational|noise|whitelisted|allowlisted|legitimate|legit|clean_and_safe|closed_benign"
)

var wordPatterns = []*wordPattern{
	// "Ignore all previous instructions" and its many phrasings.
	{id: "ignore-instructions", weight: 0.9, squash: true,
		phrase: "ignore|disregard|forget|neglect|abandon|dismiss|overlook ~3 previous|prior|above|preceding|earlier|all|any|your|system|original|initial|former|every|these|those|the_previous|the_above|the_prior|the_preceding|the_earlier|the_original|the_system|all_previous|all_prior|all_the|all_the_previous|all_of_the_previous|all_of_your|all_your|all_above|everything_in_your|my_previous ~1 " + strongNouns},
	{id: "ignore-instructions", weight: 0.85, squash: true,
		phrase: "ignore|disregard|forget|neglect|abandon ~3 previous|prior|above|preceding|earlier|your|the_previous|the_above|the_prior|all_previous|all_prior|all_your|all_of_your|all_the_previous ~1 " + weakNouns},
	{id: "ignore-instructions", weight: 0.85,
		phrase: "ignore|disregard|forget|neglect ~3 " + strongNouns + "|" + weakNouns + " above|before|so_far|given_to_you|you_were_given|you_have_been_given|you_received|you_got"},
	{id: "ignore-instructions", weight: 0.8, squash: true,
		phrase: "override|overrule|bypass|circumvent|disable|turn_off|drop|deactivate ~2 your|previous|prior|all_previous|the_previous|all_your|the_system|the_original ~1 instructions|prompt|system_prompt|guidelines|guardrails|programming|safeguards|safety_guidelines|content_policy|safety_filters|restrictions"},
	{id: "disregard-above", weight: 0.75, squash: true,
		phrase:   "disregard|forget|ignore everything|anything|all_that_is|all_that_was|whatever_is|what_is|what_was|all_text|any_text|the_text|all_content|the_content|all|the ~2 above|before_this|before|previously|so_far|earlier_in",
		notAfter: []string{"email", "mail", "message", "messages", "note", "post", "comment", "warning", "warnings", "error", "errors", "line", "lines", "link", "output", "step", "section", "paragraph", "screenshot", "image", "attachment", "file", "mentioned", "figure", "table", "invoice"}},
	{id: "forget-everything", weight: 0.75, squash: true,
		phrase: "forget|erase|clear|reset everything|all ~1 you_were_told|you_have_been_told|you_know|you_learned|you_have_learned|you_were_taught|your_instructions|your_rules|your_training|your_programming|your_memory"},
	{id: "new-instructions", weight: 0.8,
		phrase: "your|the_model_s|the_assistant_s|the_ai_s ~1 new|real|actual|true|updated|revised|only|current|primary|secret|hidden|next|final instructions|instruction|directives|directive|orders|prime_directive|primary_directive are_to|is_to|are_now|is_now|have_changed|has_changed|are_as_follows|is_as_follows|override|overrides|supersede|supersedes|replace|take_precedence|takes_precedence"},
	{id: "new-instructions", weight: 0.3,
		phrase: "new|updated|revised|override|overriding|secret|hidden|additional|priority instructions|instruction|directives|system_prompt"},
	{id: "system-prompt", weight: 0.3,
		phrase: "system_prompt|system_prompts|initial_prompt|hidden_prompt|pre_prompt|meta_prompt"},
	{id: "system-prompt", weight: 0.8, squash: true,
		phrase: "reveal|print|show|output|repeat|leak|dump|display|disclose|tell_me|write_out|ignore|override|disregard|forget|bypass|replace|your|the_real|the_original|the_hidden|new ~2 system_prompt|system_prompts|initial_prompt|hidden_prompt|hidden_instructions|original_instructions|initial_instructions|pre_prompt|meta_prompt"},
	// Verdict manipulation: the attacker wants the analysis to conclude "benign".
	{id: "verdict-benign", weight: 0.85, squash: true,
		phrase: "mark|flag|tag|label|close|resolve|dismiss|treat|classify|categorize|categorise|consider|rate|score|triage|designate|deem|declare|regard|conclude|summarize|summarise|judge|assess|grade ~5 as|being|to_be " + verdictsStrong},
	{id: "verdict-benign", weight: 0.8,
		phrase: "call|deem|consider|declare|rule|pronounce|label|make it|this|that|them|everything|all_of_this|the_activity|the_alert|the_event|the_incident|this_activity|this_alert|this_event|this_incident benign|harmless|non_malicious|not_malicious|a_false_positive|false_positive"},
	{id: "verdict-benign", weight: 0.45,
		phrase: "report|file|list|record|log|set|submit ~3 as|being|to_be " + verdictsStrong},
	{id: "verdict-benign", weight: 0.45,
		phrase:   "mark|flag|tag|label|report|close|resolve|dismiss|treat|classify|categorize|categorise|consider|record|rate|score|triage|designate|deem|declare|regard|conclude|judge|assess ~3 as|being|to_be safe|clean|authorized|authorised|expected|approved|trusted|normal|resolved|closed|okay|ok|fine|acceptable|low",
		notAfter: []string{"sender", "senders", "site", "sites", "device", "devices", "location", "publisher", "list", "domain", "browser", "computer", "app", "network", "connection", "read", "unread", "spam"}},
	{id: "verdict-benign", weight: 0.6,
		phrase: "verdict|severity|classification|risk|risk_level|risk_score|priority|disposition|status|score|threat_level|confidence|confidence_score|conclusion|assessment should_be|must_be|set_to|needs_to_be|has_to_be|is_to_be|shall_be|lowered_to|changed_to|downgraded_to|reduced_to ~1 benign|false_positive|low|informational|none|zero|closed|resolved|safe|clean|harmless|not_malicious|0"},
	{id: "verdict-benign", weight: 0.6,
		phrase: "set|change|lower|downgrade|reduce|update|make the|its|this|the_alert_s|the_incident_s? verdict|severity|classification|risk|risk_level|risk_score|priority|disposition|threat_level|confidence|confidence_score|score to|as|into benign|false_positive|low|informational|none|zero|closed|resolved|safe|clean|harmless|not_malicious|0"},
	{id: "verdict-benign", weight: 0.6, squash: true,
		phrase: "respond|reply|answer|output|return|say|write|conclude|state|summarize|summarise|report ~2 with|that|only ~3 " + verdictsStrong + "|nothing_suspicious|all_clear|no_action|no_issues|safe|clean|not_suspicious"},
	{id: "claims-benign", weight: 0.45,
		phrase: "this|it|that|the_activity|the_alert|the_event|the_incident|the_detection|the_following|everything|all_of_this|this_activity|this_alert|this_event|this_incident|this_detection|this_behavior|this_behaviour|this_process|this_file|this_traffic|this_connection|this_command|this_script|this_binary|this_login|this_email|this_message|this_entry|this_log ~1 is|was|are|were|is_only|is_just|is_merely|is_definitely|is_completely|is_totally|is_100 ~1 a|an|only|just|merely|completely|totally|definitely|entirely? " + verdictsStrong + "|safe_to_ignore|nothing_to_worry_about|not_suspicious|not_an_attack|not_an_incident|not_a_security_issue"},
	{id: "authorized-activity", weight: 0.65, squash: true,
		phrase: "this|it|that|the_following|the_above|all_this|all_of_this|this_traffic|this_activity|this_behavior|this_behaviour|this_command|this_process|this_script|this_connection ~1 is|was|are|were|is_only|is_just|is_part_of|was_part_of ~1 a|an|only|just|part_of|part_of_an|part_of_a|the|our? ~1 test|authorized|authorised|sanctioned|approved|whitelisted|allowlisted|permitted|red_team|pentest|penetration_test|security_test|scheduled_test|drill ~2 activity|action|actions|behavior|behaviour|operation|exercise|traffic|engagement|assessment|scan|scanning|test|tests|testing|drill|simulation|audit"},
	{id: "authorized-activity", weight: 0.45,
		phrase: "authorized|authorised|approved|sanctioned|cleared|signed_off|whitelisted|allowlisted by|with|from the|your? soc|security_team|security_department|ciso|it_department|it_security|administrator|admin|management|blue_team|incident_response|ir_team|analyst"},
	// The same two instructions in the other languages attackers commonly use in Latin script
	// (accents are folded away before matching).
	{id: "ignore-instructions", weight: 0.85, squash: true,
		phrase: "ignora|ignore|ignorad|ignoren|olvida|olvide|olvidad|ignorez|oublie|oubliez|ignoriere|ignorieren|vergiss|vergessen|esqueca|esquece|dimentica|dimenticate ~3 anteriores|previas|precedentes|anteriori|precedenti|vorherigen|bisherigen|obigen|vorigen|todas|toutes|alle|tutte ~2 instrucciones|indicaciones|instructions|consignes|anweisungen|instruktionen|vorgaben|instrucoes|istruzioni|directivas|diretivas|regras|reglas|regles|regeln|regole"},
	{id: "verdict-benign", weight: 0.8, squash: true,
		phrase: "marca|marque|marcar|marquez|classe|classez|classer|clasifica|clasificar|classifique|classifica|markiere|markieren|stufe|einstufen|segna|considera|considere|trata|trate|traite|traitez|behandle ~3 como|comme|als|come benigno|benigna|benin|benigne|inofensivo|inofensiva|inoffensif|harmlos|gutartig|innocuo|legitimo|legitime|falso_positivo|faux_positif|fehlalarm|falsch_positiv|sicuro|seguro|sur"},
	{id: "new-instructions", weight: 0.3,
		phrase: "nuevas|nouvelles|neue|novas|nuove instrucciones|instructions|consignes|anweisungen|instrucoes|istruzioni"},
	{id: "new-instructions", weight: 0.3,
		phrase: "instrucciones|instructions|consignes|anweisungen|instrucoes|istruzioni nuevas|nouvelles|neue|novas|nuove"},
	// Suppression: keep the analyst from acting.
	{id: "suppress-alert", weight: 0.65, squash: true,
		phrase:   "do_not|don_t|dont|never|not_to|no_need_to|there_is_no_need_to|you_must_not|you_should_not|you_shouldn_t|refrain_from alert|alerting|escalate|escalating|report|reporting|flag|flagging|notify|notifying|raise_an_alert|raise_any_alert|raise_an_incident|raise_alarms|raise_an_alarm|raise_a_ticket|open_a_ticket|open_an_incident|create_an_alert|create_an_incident|investigate|investigating|quarantine|quarantining|isolate|isolating|page|paging|triage|log_this|record_this",
		notAfter: []string{"reply", "spam", "phishing", "me", "us", "errors", "error", "warnings", "warning", "bugs", "bug", "deprecation", "issues", "usage", "statistics", "stats", "telemetry", "crashes", "crash", "metrics", "progress", "status", "again", "twice", "duplicates", "unused"}},
	{id: "no-action", weight: 0.45,
		phrase: "no|without ~1 action|actions|response|containment|escalation|follow_up|further_action|further_actions|remediation needed|required|necessary|is_needed|is_required|is_necessary|needs_to_be_taken|should_be_taken|to_be_taken"},
	// Addressing an AI directly.
	{id: "addresses-ai", weight: 0.5,
		phrase:   "note|message|instruction|instructions|attention|hey|hello|hi|dear|important|warning|notice|memo|psa|reminder to|for|from? the|any|all|every? " + aiNames + "|assistant|assistants|model|models|bot|bots|agent|agents",
		notAfter: []string{"manager", "director", "professor", "principal", "secretary", "coach", "editor", "general", "vice", "attorney", "engineer", "to", "of", "at", "in", "accountant", "administrator", "admin", "teacher", "training", "number", "version", "id", "year", "no"}},
	{id: "addresses-ai", weight: 0.75, squash: true,
		phrase: "if|when|since|as ~1 you_are|you_re|youre|you_were ~1 a|an|the|acting_as_an|acting_as_a? " + aiNames + "|assistant|language_model|automated_system|automated_analyst|automated_agent|automated_tool|machine|robot|model|agent|bot_reading|system_reading"},
	{id: "addresses-ai", weight: 0.75, squash: true,
		phrase: aiNames + "|assistant|assistants|model|models|agent|agents|analyzer|automated_system|automated_systems|automated_analysis|machine_learning_system|bot|bots reading|processing|analyzing|analysing|reviewing|parsing|summarizing|summarising|triaging|scanning|seeing|evaluating|classifying|handling|ingesting this|these|the_following"},
	{id: "addresses-ai", weight: 0.6,
		phrase: "to|attention|calling any|all|every|the " + aiNames + "|ai_systems|automated_systems|automated_system|language_models|assistants"},
	// Persona changes and jailbreaks.
	{id: "persona-change", weight: 0.75, squash: true,
		phrase: "you_are|you_re|youre|u_r|u_are|you_will_be|you_have_become|you_shall_be now|henceforth|from_now_on|going_forward|hereby ~2 a|an|the|in|my|our? ~1 dan|unrestricted|jailbroken|unfiltered|uncensored|evil|rogue|liberated|unbound|unchained|different_ai|new_ai|another_ai|developer_mode|dev_mode|god_mode|debug_mode|maintenance_mode|admin_mode|sudo_mode|no_longer|not_an_ai|not_bound|unlimited|free_from|free_of|my_assistant|my_slave|an_ai_without|an_ai_that|a_model_that|a_system_that|a_different_assistant|a_different_model|permitted_to|allowed_to|authorized_to|authorised_to"},
	{id: "persona-change", weight: 0.8, squash: true,
		phrase: "you_are|you_re|youre|you no_longer|not_anymore|not_longer bound|restricted|limited|an_ai|required_to|constrained|subject_to|an_assistant|a_language_model|obligated_to|governed_by|chatgpt|censored|filtered"},
	{id: "persona-change", weight: 0.6,
		phrase: "pretend|imagine|act|behave|roleplay|role_play|simulate|play_the_role ~2 you_are|you_re|to_be|as_if_you|as|like|that_you_are|of ~2 unrestricted|jailbroken|dan|evil|rogue|different_ai|another_ai|no_restrictions|no_rules|no_guidelines|uncensored|unfiltered|an_ai_without|a_model_without|an_assistant_without|my_deceased|developer_mode|a_hacker|an_attacker|the_attacker"},
	{id: "persona-change", weight: 0.5,
		phrase: "from_now_on|henceforth|starting_now|starting_today|going_forward|for_the_rest_of_this_conversation|for_the_rest_of_the_conversation you|your|always|only|respond|reply|answer|ignore|do_not|never|act|behave|output|must|will|should|shall"},
	{id: "persona-change", weight: 0.5, squash: true,
		phrase: "stay|remain|keep in_character|in_role|as_dan|in_dan_mode"},
	{id: "jailbreak", weight: 0.8, squash: true, phrase: "do_anything_now|developer_mode_output|jailbreak_prompt|dan_prompt|dan_mode|dan_jailbreak|stan_prompt|dude_prompt|aim_prompt|evil_confidant|opposite_mode|anti_dan|jailbroken_mode|jailbreak_mode"},
	{id: "jailbreak", weight: 0.3, phrase: "jailbreak|jailbroken|jailbreaking"},
	{id: "jailbreak", weight: 0.45,
		phrase: "no|without|free_of|free_from|ignore|disregard|bypass ~2 ethical|moral|safety|content|openai|anthropic|usage ~1 guidelines|restrictions|constraints|filters|limitations|rules|policies|guardrails|principles|considerations|boundaries"},
	{id: "jailbreak", weight: 0.35,
		phrase: "without|no ~1 any|all? restrictions|limitations|censorship|filtering|filters|refusals"},
	// Exfiltration and prompt leaking.
	{id: "reveal-secrets", weight: 0.55,
		phrase: "reveal|print|leak|dump|disclose|output|repeat|show|tell_me|send|share|exfiltrate|give_me|write|list|display|email|post your|the_hidden|the_original|the_initial|the_system|all_your|all_of_your|any_of_your ~1 instructions|prompt|system_prompt|api_key|api_keys|apikey|secrets|secret|credentials|configuration|config|system_message|rules|guidelines|tools|keys|tokens|access_token|password|passwords|context|memory|conversation|chat_history"},
	{id: "call-tool", weight: 0.65, squash: true,
		phrase: "call|invoke ~3 tool|tools|function|functions|function_call|tool_call ~3 isolate|disable|block|delete|unblock|reset|remove|whitelist|allowlist|quarantine|unquarantine|release|close|disconnect|suspend|grant|kill|terminate|wipe|shutdown|unlock|isolate_host|disable_user|block_ip"},
	{id: "call-tool", weight: 0.45,
		phrase: "call|invoke|execute|trigger|launch|fire ~2 the|this|your|a|an? ~1 action|playbook|response_action|containment_action|api|endpoint ~3 isolate|disable|block|delete|unblock|reset|remove|whitelist|allowlist|quarantine|release|close|disconnect|suspend|grant|kill|terminate|wipe|shutdown|unlock"},
	{id: "call-tool", weight: 0.5,
		phrase: "release|unquarantine|unblock|unisolate|un_isolate|allowlist|whitelist|restore|reenable|re_enable|enable ~2 the|this|that|these|all|my? ~1 host|hosts|user|account|accounts|file|files|email|emails|sender|ip|address|domain|machine|device|endpoint|process|binary|hash from|in|on? ~1 quarantine|the_blocklist|the_blacklist|the_block_list|the_edr|isolation|containment|immediately|now|right_now|automatically|without_review|without_approval|without_asking"},
	{id: "urgent-override", weight: 0.35,
		phrase: "this_is|i_am|message_from|instruction_from|order_from|directive_from|authorized_by|on_behalf_of|speaking_as|note_from your|the|an? ~1 administrator|admin|developer|developers|creator|creators|operator|owner|openai|anthropic|system_administrator|sysadmin|security_team|soc_manager|ciso|supervisor|vendor"},
}

var symbolPatterns = []*symbolPattern{
	// Chat-template special tokens: ChatML, Llama 3, Mistral, Gemma, Phi, GPT-style.
	{id: "role-tag", weight: 0.85, span: 80, needs: []string{"|"},
		expr: `< ?\| ?(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text|end_of_text|eom_id|python_tag|channel|message|start|end|return|call|constrain|tool|tool_call|tool_response|function|fim_prefix|fim_suffix|fim_middle|endofprompt|sep|pad|eos|bos|begin▁of▁sentence|end▁of▁sentence|user▁|assistant▁)[a-z0-9_▁]{0,20} ?\| ?>`},
	{id: "role-tag", weight: 0.75, span: 40, needs: []string{"inst", "sys", "turn", "bos", "eos", "prompt", "message", "instruction"},
		expr: `\[ ?/? ?inst ?\]|\[ ?/? ?sys ?\]|<< ?/? ?sys ?>>|< ?/? ?(?:start_of_turn|end_of_turn|bos|eos|s_sys|sys) ?>|\[ ?(?:system|assistant)_?(?:prompt|message|instructions?) ?\]`},
	{id: "role-tag", weight: 0.5, span: 40, needs: []string{"instruction", "assistant", "system_", "untrusted", "user_input", "prompt", "human", "ai>", "ai >"},
		expr: `< ?/? ?(?:instructions?|assistant|system_prompt|system_instructions|untrusted_input|user_input|prompt|human|ai) ?>`},
	{id: "instruction-header", weight: 0.7, span: 60, needs: []string{"##"},
		expr: `(?:^|[^#])#{2,6} ?(?:system ?:|system prompt|system message|(?:new|updated|hidden|secret|real) (?:instruction|instructions|task)\b|instruction\b|directive\b|directives\b)`},
	{id: "instruction-header", weight: 0.4, span: 30, needs: []string{"##"}, expr: `(?:^|[^#])#{2,6} ?(?:instructions|task)\b`},
	{id: "instruction-header", weight: 0.35, span: 30, needs: []string{"##"}, expr: `(?:^|[^#])#{2,6} ?(?:response|input|human|assistant|user|system)\b ?:?`},
	{id: "instruction-header", weight: 0.6, span: 40, needs: []string{"instruction", "directive", "task", "system prompt"},
		expr: `\b(?:real|actual|system|priority|hidden|secret|override|overriding|true) (?:instruction|instructions|directive|directives|task|system prompt) ?:`},
	{id: "instruction-header", weight: 0.25, span: 40, needs: []string{"instruction", "directive", "task"},
		expr: `\b(?:new|updated|important|additional) (?:instruction|instructions|directive|directives|task) ?:`},
	{id: "fake-data-close", weight: 0.75, span: 20, needs: []string{"data id"}, expr: `< ?/ ?data id ?=`},
	{id: "fake-data-close", weight: 0.5, span: 40,
		needs: []string{"untrusted", "evidence", "data_block", "tool_result", "tool_output", "log_data", "context", "document", "input", "user_data", "external_data", "end of", "close of"},
		expr:  `< ?/ ?(?:untrusted|evidence|data_block|tool_result|tool_output|log_data|context|document|input|user_data|external_data) ?>|\b(?:end|close) of (?:untrusted |user |log |external )?(?:data|input|evidence|document|context|log) ?[\]\-=:>]`},
	{id: "addresses-ai", weight: 0.35, span: 20,
		needs: []string{"assistant,", "assistant ,", "ai,", "ai ,", "llm,", "llm ,", "chatgpt,", "claude,", "gemini,", "copilot,", "model,", "bot,"},
		expr:  `(?:^|[.!?] )(?:assistant|ai|llm|chatgpt|claude|gemini|copilot|model|bot) ?,`},
	{id: "role-label", weight: 0.35, span: 20, needs: labelNeeds, expr: `\b(?:assistant|chatgpt|ai assistant|ai|gpt|claude|llm) ?:`},
	{id: "role-label", weight: 0.4, span: 40, needs: []string{"bot:", "bot :", "analyst:", "copilot:"},
		expr: `\b(?:triage|soc|security|analyst|security analyst|ai|review|investigation) (?:bot|assistant|copilot|analyst) ?:`},
	{id: "role-label", weight: 0.7, span: 450, needs: labelNeeds,
		expr: `\b(?:human|user|system) ?: .{0,400}?\b(?:assistant|ai|gpt|chatgpt|claude) ?: `},
	{id: "role-label", weight: 0.6, span: 60, needs: []string{"system", "admin", "developer", "operator"},
		expr: `\b(?:system|admin|administrator|developer|operator) ?(?:message|note|override|notice|instruction|instructions)? ?: ?(?:you|ignore|disregard|forget|new|from now|the ai|the assistant|the model|as an ai|always|never|do not)\b`},
}

var labelNeeds = []string{"assistant:", "assistant :", "ai:", "ai :", "gpt:", "gpt :", "claude:", "claude :", "llm:", "llm :"}

func init() {
	for i, p := range wordPatterns {
		slots := parsePhrase(p.phrase)
		p.re = regexp.MustCompile(compileSlots(slots, false, p.notAfter != nil))
		p.anchors, p.span = anchorsOf(slots, false)
		if p.squash {
			p.sq = regexp.MustCompile(compileSlots(slots, true, false))
			p.sqAnchors, p.sqSpan = anchorsOf(slots, true)
			for _, a := range p.sqAnchors {
				if len(a) < 2 {
					panic(fmt.Sprintf("llm: squashed anchor %q too short in pattern %q", a, p.phrase))
				}
				k := int(a[0])<<8 | int(a[1])
				squashBuckets[k] = append(squashBuckets[k], squashAnchor{pattern: i, text: a})
			}
		}
		for _, a := range p.anchors {
			anchorWords[a] = true
		}
	}
	for _, p := range symbolPatterns {
		p.re = regexp.MustCompile(p.expr)
	}
}

// slot is one position of a phrase: alternatives (words separated by spaces), or a filler of up
// to filler words.
type slot struct {
	alts   []string
	opt    bool
	filler int
}

// maxFillerWord bounds the length of a word a filler slot skips, so that every match has a
// known longest length (span) and can be looked for near its anchor only.
const maxFillerWord = 24

func parsePhrase(phrase string) []slot {
	toks := strings.Fields(phrase)
	var slots []slot
	for i, t := range toks {
		last := i == len(toks)-1
		if n, ok := strings.CutPrefix(t, "~"); ok {
			k, err := strconv.Atoi(n)
			if err != nil || last || i == 0 {
				panic(fmt.Sprintf("llm: bad filler %q in pattern %q", t, phrase))
			}
			slots = append(slots, slot{filler: k})
			continue
		}
		opt := strings.HasSuffix(t, "?")
		if opt && last {
			panic(fmt.Sprintf("llm: optional last slot in pattern %q", phrase))
		}
		alts := strings.Split(strings.TrimSuffix(t, "?"), "|")
		for k, a := range alts {
			alts[k] = strings.ReplaceAll(a, "_", " ")
		}
		slots = append(slots, slot{alts: alts, opt: opt})
	}
	return slots
}

// compileSlots renders slots as a regular expression over a word view (squash false) or a
// squashed view (squash true). With next, the expression captures the word after the match.
func compileSlots(slots []slot, squash, next bool) string {
	sep := " "
	if squash {
		sep = ""
	}
	var b strings.Builder
	if !squash {
		b.WriteString(`\b`)
	}
	for i, sl := range slots {
		if sl.filler > 0 {
			if !squash {
				fmt.Fprintf(&b, "(?:[a-z0-9]{1,%d} ){0,%d}", maxFillerWord, sl.filler)
			}
			continue
		}
		alts := make([]string, len(sl.alts))
		for k, a := range sl.alts {
			alts[k] = literal(a, sep)
		}
		group := "(?:" + strings.Join(alts, "|") + ")"
		switch {
		case i == len(slots)-1:
			b.WriteString(group)
		case sl.opt:
			b.WriteString("(?:" + group + sep + ")?")
		default:
			b.WriteString(group + sep)
		}
	}
	if !squash {
		b.WriteString(`\b`)
		if next {
			b.WriteString(`(?: ([a-z0-9]+))?`)
		}
	}
	return b.String()
}

// stopwords are too common, in prose or in logs and command lines, to be worth looking up as
// anchors.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the this that these those it its is was are were be been to of in on at for
		from with by as and or not no do does did you your yours u i me my we us our they them he she
		all any every some set make use run if when since so only just now then there here
		file files log logs list set message messages user users system error errors process host
		service data report record note time start new update status info warning name id type path
		port server request response get post exe cmd windows program c http https com www alert
		event events close test open low safe clean normal ok fine`) {
		m[canon(w)] = true
	}
	return m
}()

// canon maps l to i, as a word view's leet reading does for the pattern side.
func canon(s string) string { return strings.ReplaceAll(s, "l", "i") }

// anchorsOf picks the mandatory slot whose alternatives are rarest in ordinary text (fewest
// stop words, then fewest alternatives) and returns the first word of each of its alternatives
// (for a squashed view: the whole alternative without spaces), canonical, and the longest match.
// Every match holds one of the anchors, so a text without any cannot match.
func anchorsOf(slots []slot, squash bool) (anchors []string, span int) {
	best, bestStop := -1, 0
	for i, sl := range slots {
		if sl.filler > 0 {
			span += sl.filler * (maxFillerWord + 1)
			continue
		}
		longest := 0
		stop := 0
		for _, a := range sl.alts {
			longest = max(longest, len(a)+1)
			first, _, _ := strings.Cut(a, " ")
			if stopwords[canon(first)] {
				stop++
			}
		}
		span += longest
		if sl.opt {
			continue
		}
		if best < 0 || stop < bestStop || stop == bestStop && len(sl.alts) < len(slots[best].alts) {
			best, bestStop = i, stop
		}
	}
	seen := map[string]bool{}
	for _, a := range slots[best].alts {
		w := a
		if squash {
			w = strings.ReplaceAll(a, " ", "")
		} else {
			w, _, _ = strings.Cut(a, " ")
		}
		w = canon(w)
		if !seen[w] {
			seen[w] = true
			anchors = append(anchors, w)
		}
	}
	return anchors, span + 1
}

// literal renders one alternative: spaces become sep, and l also matches i.
func literal(a, sep string) string {
	var b strings.Builder
	for _, r := range a {
		switch r {
		case ' ':
			b.WriteString(sep)
		case 'l':
			b.WriteString("[li]")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}
