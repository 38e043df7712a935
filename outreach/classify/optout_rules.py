"""The opt-out rules of each language (English, Spanish, French, German, Portuguese, Italian).

Each language models the request itself: a verb of writing, sending or contacting (or a noun for
what we send), a stop cue in front of it (a negation, "no more", "stop", "cease", "refrain",
"never again", "last") and a target pointing at the writer, the people they speak for or the
future. Every gap between words is `(?:WORD\\s+){0,n}`: a word cannot hold ".", "," or "?", so no
rule reaches across a clause. Rules match lower-cased text; `_WORDS` holds the anchor words one of
which every rule needs (tests/test_classify_prefilter.py checks it), so most replies skip them all.
"""

from __future__ import annotations

import re

__all__ = ["ORG_GROUPS", "LANGUAGES", "WORDS", "EN_NOUN"]

_W = r"[\w'’-]+\s+"  # one word and the space after it


def _r(pattern: str) -> re.Pattern[str]:
    """A rule: matched against lower-cased text, which lets the regex engine skip ahead on its
    first letters (re.IGNORECASE halves the speed of every rule)."""
    return re.compile(pattern)


ORG_GROUPS = (
    r"(?:physicians|doctors|faculty|staff|attendings|surgeons|residents|fellows|consultants|clinicians|providers|"
    r"employees|members|department|departments|division|team|colleagues|personnel|specialists|"
    r"médicos|medicos|profesores|personal|equipo|médecins|medecins|praticiens|équipe|equipe|collaborateurs|"
    r"ärzte|aerzte|ärztinnen|mitarbeiter|mitarbeitenden|kollegen|abteilung|medici|dottori|docenti|collaboratori|reparto|"
    r"professores|funcionários|funcionarios|colaboradores|equipa)"
)

# --- English -------------------------------------------------------------------------------------

_EN_VERB = (
    r"(?:re-?)?(?:contact(?:ing)?|e-?mail(?:ing)?|mail(?:ing)?|writ(?:e|ing)|send(?:ing)?|messag(?:e|ing)|"
    r"reach(?:ing)? out(?: to)?|follow(?:ing)?[- ]up(?: with)?|solicit(?:ing)?|bother(?:ing)?|harass(?:ing)?|spam(?:ming)?|pester(?:ing)?|"
    r"correspond(?:ing)?(?: with)?|get(?:ting)? in touch(?: with)?|text(?:ing)?|call(?:ing)?|approach(?:ing)?|target(?:ing)?|"
    r"cold[- ]e-?mail(?:ing)?|cc(?:ing)?|add(?:ing)?|include|including|forward(?:ing)?)"
)
_EN_NOUN = (
    r"(?:e-?mails?|mails?|messages?|mailings?|correspondence|communications?|contact|solicitations?|requests?|inquiries|enquiries|"
    r"letters|newsletters?|spam|junk|outreach|follow-?ups?|reminders?)"
)
_EN_TARGET = (
    r"(?:me|us|him|her|them|myself|again|any ?more|anymore|further|ever|in (?:the )?future|going forward|from now on|"
    r"this (?:address|account|inbox|e-?mail(?: address)?|person)|my (?:inbox|address|e-?mail|account|office|boss|team|colleagues?)|"
    r"(?:our|my|this) " + ORG_GROUPS + r"|dr\.? ?\w+|prof\.? ?\w+|professor \w+|anyone|anybody|any(?:thing|one)? (?:more|else|further)|"
    r"(?:any|more|further|additional|these|such|those|your|unsolicited) (?:" + _W + r")?" + _EN_NOUN + r")\b"
)
# Words that turn "do not ..." into something else: "don't hesitate to contact me".
_EN_NOT_A_REQUEST = r"(?!(?:hesitate|need|have|forget|mind|worry|wait|feel|be|think|know|see|fail|delay|stop)\b)"
_EN_NEGATION = (
    r"(?:do not|don't|dont|do no|never|please never|no longer|not to|you not|not ever|"
    r"you (?:should|must|may|shall)(?: not|n't)|(?:should|must|shall) not|shouldn't|mustn't)"
)
_EN = [
    ("unsubscribe", _r(r"(?<!\bi )(?<!\bi've )(?<!\bi have )(?<!\bi am )(?<!\bi'm )\bun-?subscrib(?:e|ed)\b|\bopt(?:ed|ing)?[- ]?(?:me |us |him |her )?out\b(?! of (?:the|this|any|our) (?:program|programme|rotation|course|elective|study))(?![- ](?:option|form|period|box))")),
    ("remove-from-list", _r(
        r"\b(?:remove|removing|delete|deleting|take|taking|drop|strike|erase|purge|scrub|exclude|unlist)\s+"
        r"(?:me|us|him|her|them|my|our|this|dr|the dr|professor|prof|[a-z]+'s)\b\.?(?:\s+[\w'’.-]+){0,4}?\s+(?:from|off)\b"
        r"(?!\s+(?:the\s+|this\s+|your\s+)?(?:cc|thread|loop|chain|conversation|e-?mail (?:chain|thread)|call|meeting|invite|schedule|rotation|roster|committee|panel))"
        r"|\b(?:take|get) (?:me|us) off\b|\b(?:remove|delete) me(?:\s+please)?(?=\s*(?:[.!]|\Z))"
        r"|\b(?:remove|delete|erase|purge)\s+(?:this|my|our)\s+(?:e-?mail )?(?:address|e-?mail|account|contact details|details|name)\b")),
    ("negated-contact", _r(
        r"\b" + _EN_NEGATION + r"\s+(?:(?:please|ever|again|even|try to|attempt to|continue to|keep|further|directly)\s+){0,2}?"
        + _EN_NOT_A_REQUEST + r"(?P<verb>" + _EN_VERB + r")\b\s*(?:to\s+|with\s+|at\s+)?(?:" + _W + r"){0,3}?" + _EN_TARGET)),
    ("stop-contacting", _r(
        r"\b(?:stop|quit|cease|discontinue|refrain from|desist from|halt|end) \s*(?:(?:all|any|further|these|this|the|your|with the|sending me|sending us)\s+){0,2}?"
        r"(?:(?:contact(?:ing)?|e-?mail(?:ing)?|mailing|writing|sending|messaging|reaching out|following up|soliciting|bothering|harassing|spamming|pestering|"
        r"texting|calling|approaching|targeting|cc'?ing|adding)\b|" + _EN_NOUN + r"\b)")),
    ("no-more-messages", _r(r"\b(?:no|not any|nothing) (?:more|further) (?:" + _W + r"){0,1}?" + _EN_NOUN + r"\b")),
    # A sentence that is only the request: "Not interested. Remove." / "Thanks but no. Stop!"
    ("bare-request", re.compile(r"(?:(?<=[.!?] )|(?<=^))\s*(?:please\s+)?(?:stop|remove(?: me)?|unsubscribe(?: me)?|take me off)(?:\s+(?:please|now))?[.!]*\s*$", re.M)),
    ("please-stop", _r(r"\b(?:please|pls|kindly|just|so|now) stop(?:\s+(?:it|this|now|immediately))?(?=\s*(?:[.!]|\Z|,?\s*(?:please|thanks|thank you)\b))")),
    ("does-not-wish", _r(
        r"\b(?:(?:do not|don't|dont|does not|doesn't|did not|didn't|no longer)\s+(?:wish|want|care|like|consent|agree)\s+(?:to\s+)?|"
        r"(?:would (?:rather|prefer|like|ask)(?: (?:you|that you))? not(?: to)?|'d (?:rather|prefer|like)(?: (?:you|that you))? not(?: to)?|"
        r"prefer not to|rather not|not interested in|(?:wish|want|ask) not to|(?:appreciate|prefer|welcome|insist on|ask for) (?:not|no longer|never))\s+)"
        r"(?:(?:be|being|keep|continue)\s+)?(?:(?:receiv(?:e|ing)|get(?:ting)?|hear(?:ing)?(?: from)?|be(?:ing)?)\s+)?(?:(?:any|more|further|these|such|your|additional|unsolicited)\s+){0,2}?"
        r"(?:contacted|emailed|e-mailed|mailed|messaged|approached|solicited|bothered|written to|added|included|kept on|on (?:your|the|any) (?:mailing )?lists?|again|any ?more|ever|further|"
        r"contacting|e-?mails?|messages?|mail|correspondence|communications?|solicitations?|contact|requests|inquiries|letters|newsletters)\b"
        r"|\b(?:do not|don't|dont|does not|doesn't|no longer) (?:want|wish|care) to hear from (?:you|your|this)\b"
        r"|\byou (?:no longer|would not|wouldn't) (?:contact|contacted|e-?mail|e-?mailed|write|wrote|message|messaged)\s+(?:me|us|him|her|again|further|any ?more)\b")),
    ("asked-not-to", _r(
        r"\b(?:asked|asks|requested|requests|instructed|wishes|would like|wants|prefers)\s+(?:" + _W + r"){0,4}?"
        r"(?:not to be (?:contacted|e-?mailed|written|approached|solicited|bothered)|that (?:you|we|he|she|they|applicants|students|candidates|people|anyone|no one) (?:not|never|no longer|do not|refrain)|(?:you|us) not to|to be removed|to be taken off|to stop|to no longer|no further|that no (?:more|further))\b")),
    ("spam-report", _r(
        r"\b(?:i|we)(?:'ll|'m|'re|'ve| will| am| are| have| had| shall| would| may| might)?(?:\s+(?:be|now|going to|already|just|definitely|also))*\s+"
        r"(?:report(?:ed|ing)?|flag(?:ged|ging)?|mark(?:ed|ing)?|block(?:ed|ing)?|filter(?:ed|ing)?)\s+(?:" + _W + r"){0,4}?(?:as|to (?:your|the|google|gmail|microsoft|outlook))\s+(?:" + _W + r"){0,1}?(?:spam|junk|phishing|abuse|harassment)\b"
        r"|\b(?:further|next|future|any (?:more|further)|another) (?:e-?mails?|messages?) (?:will|shall) be (?:reported|flagged|marked|blocked|treated|filed) as (?:spam|junk)\b"
        r"|\b(?:this is|these are|constitutes?)\s+(?!not\b)(?:" + _W + r"){0,2}?spam\b|\bcan-?spam\b|\bspam (?:complaint|report)|"
        r"\bblock(?:ed|ing)? (?:your|this|the) (?:address|e-?mail|e-?mail address|domain|sender)\b|\bstop (?:the |this )?spam\b")),
    ("last-message", _r(
        r"\b(?:this is|that was|this will be|consider this|that is|it is|it's|this is the)\s+(?:" + _W + r"){0,2}?(?:last|final)\s+(?:" + _W + r"){0,1}?"
        r"(?:time i(?:'m| am)? (?:ask|tell|say)|warning|e-?mail i (?:want|wish|will)|message i (?:want|wish|will)|e-?mail (?:from|you send)|request)")),
    ("leave-alone", _r(r"\bcease and desist\b|\benough (?:with|of) (?:the |these |your |all the )?(?:e-?mails|messages|mails|spam)\b|\bleave (?:me|us|him|her|them|our \w+) alone\b|\blose (?:my|our|this) (?:e-?mail|address|contact|number)\b|\bget lost\b")),
]
_EN_ONE_LINER = _r(
    r"\A\s*(?:please\s+|pls\s+|kindly\s+)?(?:stop|stop it|stop now|stop this|stop please|stop emailing|unsubscribe(?: me)?|remove(?: me)?|"
    r"take me off|opt out|no more|enough|enough already|cease)(?:[\s.,!]+(?:please|now|thanks|thank you|immediately|stop|seriously|already))*[.!]*\s*\Z"
)

# --- Spanish -------------------------------------------------------------------------------------

_ES_VERB = (
    r"(?:contact\w*|escrib\w*|escríb\w*|envi\w*|enví\w*|mand\w*|mánd\w*|molest\w*|comuni\w*|comuní\w*|insist\w*|"
    r"buscar\w*|llam\w*|incluir\w*|inclu\w*|agreg\w*)"
)
_ES_NOUN = r"(?:correos?|e-?mails?|mails?|mensajes?|comunicaciones|solicitudes|cartas|boletines|publicidad|spam)"
# The forms a request takes (imperative / subjunctive): "no me escriba", never "no me escribió".
_ES_ASK = r"(?:contact(?:e|en|es)|escrib(?:a|an|as)|env[ií](?:e|en|es)|reenv[ií](?:e|en)|mand(?:e|en|es)|molest(?:e|en|es)(?=\s+más))"
_ES = [
    ("unsubscribe", _r(r"\bd(?:ar|a|é|e|en|én)(?:me|nos|le|les)? de baja\b|\bdarme de baja\b|\bbaja de (?:su|tu|la|esta|sus) (?:lista|base)|\bdesuscrib\w*|\bdesinscrib\w*")),
    ("remove-from-list", _r(
        r"\b(?:elimín|elimin|borr|bórr|quit|quít|sac|saq|sáq|retir|retír|excl)\w*\s+(?:(?:" + _W + r"){0,4}?)(?:de|del)\s+(?:(?:" + _W + r"){0,2}?)"
        r"(?:lista|listas|listado|base de datos|registros?|envíos|contactos|directorio)\b"
        r"|\b(?:elimín|elimin|borr|bórr|quít|quit|sáq|saq|retír)(?:e|en|a)(?:me|nos)\b")),
    ("negated-contact", _r(
        r"\bno  *(?:(?:me|nos|le|les|lo|la|los|las|se)\s+)?(?:vuelv\w+|volv\w+)\s+a\s+(?:(?:me|nos|le|les)\s+)?" + _ES_VERB +
        r"|\bno  *(?:(?:me|nos|le|les)\s+)" + _ES_ASK + r"\b(?!\s+(?:" + _W + r"){0,3}?(?:hasta|antes|todavía|aún|directamente|sino))"
        r"(?!\s+(?:el|la|los|las|su|sus|un|una|otros?|otras?|ese|esa|esos|esas|este|esta)\s+(?!" + _ES_NOUN + r"))"
        r"|\bno  *(?:(?:me|nos|le|les|se|ya|nunca|jamás)\s+)?" + _ES_VERB + r"\s+(?:" + _W + r"){0,3}?(?:más|nunca|nuevamente|de nuevo|otra vez|en el futuro|en adelante)\b"
        r"|\bnunca más\s+(?:(?:me|nos|le|les)\s+)?" + _ES_VERB +
        r"|\b(?:que no|a no|de no)\s+(?:(?:me|nos|le|les|lo|la|se)\s+)?(?:vuelv\w+\s+a\s+|sig\w+\s+)?(?:(?:me|nos|le|les)\s+)?(?:" + _ES_ASK + r"|contactarme|contactarnos|escribirme|escribirnos|enviarme|enviarnos)\b")),
    ("stop-contacting", _r(
        r"(?<!\bno )(?<!\bno me )\b(?:deje|dejen|dejes|deja|dejar|pare|paren|pares|parar|cese|cesen|ceses|cesar|absténgase|absténganse|abstenerse|se abstenga|se abstengan)\s+de\s+(?:(?:me|nos)\s+)?(?:" + _W + r"){0,1}?(?:" + _ES_VERB + r"|" + _ES_NOUN + r")"
        r"|\b(?:ces\w*|suspend\w*|deten\w*|deteng\w*)\s+(?:(?:todo|toda|todos|todas|el|la|los|las|sus|su|cualquier)\s+)+(?:" + _W + r")?(?:" + _ES_NOUN + r"|envíos?|contacto)\b")),
    ("no-more-messages", _r(
        r"\bno  *(?:(?:quiero|deseo|queremos|deseamos|me|nos|le|les|env[ií]e|env[ií]en|mande|manden|escriba|escriban|recibir|seguir recibiendo)\s+){0,3}(?:más|otros?|otras?)\s+(?:" + _W + r")?" + _ES_NOUN + r"\b"
        r"|\bningún (?:otro )?(?:correo|mensaje|e-?mail)\s+más\b|\b(?:no más|basta de|suficiente con)\s+(?:" + _W + r")?" + _ES_NOUN + r"\b"
        r"|\bno  *(?:quiero|deseo|queremos|deseamos|quiere|desea)\s+(?:seguir\s+|volver a\s+)?(?:recibir\s+(?:" + _W + r"){0,2}?(?:" + _ES_NOUN + r"|nada|más)|ser (?:contactad|molestad)|que (?:me|nos|le|se) (?:sigan? |vuelvan? a )?(?:contact|escrib|envi|envíe|mand|molest))"
        r"|\bya no\s+(?:quiero|deseo|queremos|deseamos)\s+(?:recibir|que)\b")),
    ("spam-report", _r(r"\b(?:denunci|report|marc|bloque)\w*\s+(?:" + _W + r"){0,3}?(?:como\s+)?(?:spam|correo no deseado|correo basura)\b|\besto es spam\b|\b(?:es|son) spam\b")),
    ("last-message", _r(r"\b(?:es|sea|será) (?:la )?última vez que (?:se lo|le|te|se los|les) (?:pido|digo)|\búltimo aviso\b")),
]
_ES_ONE_LINER = _r(r"\A\s*(?:por favor\s*,?\s*)?(?:baja|darme de baja|basta|ya basta|alto|stop)(?:\s*,?\s*por favor)?[.!¡]*\s*\Z")

# --- French --------------------------------------------------------------------------------------

_FR_VERB = (
    r"(?:(?:re)?contact\w*|(?:ré|re)?écri\w*|(?:re)?ecri\w*|envo\w*|(?:re)?solicit\w*|(?:re)?sollicit\w*|relanc\w*|importun\w*|"
    r"dérang\w*|derang\w*|adress\w*|transmet\w*|écriv\w*|ecriv\w*|(?:re)?mail\w*|appel\w*|inclu\w*|ajout\w*|harcel\w*|harcèl\w*)"
)
_FR_NOUN = r"(?:courriels?|e-?mails?|mails?|messages?|envois?|sollicitations?|communications?|relances?|demandes|lettres|publicités?|pourriels?|spams?)"
_FR_CLITIC = r"(?:m'|me\s+|nous\s+|l'|le\s+|la\s+|les\s+|lui\s+|leur\s+)"
_FR = [
    ("unsubscribe", _r(r"\bd[ée]sinscri\w*|\bd[ée]sabonn\w*|\bme d[ée]sinscrire\b")),
    ("remove-from-list", _r(
        r"\b(?:retir|supprim|enlev|ray|effac)\w*[- ](?:moi|nous|mon adresse|mes coordonnées|mon nom|mon e-?mail|mon courriel|notre adresse)\b"
        r"|\b(?:retir|supprim|enlev|ray|effac)\w*\s+(?:" + _W + r"){0,4}?(?:de|des)\s+(?:" + _W + r"){0,2}?(?:liste|listes|fichier|fichiers|base|bases|diffusion|envois)\b")),
    ("negated-contact", _r(
        r"\bne  *(?:m'|me\s+|nous\s+)(?:re)?" + _FR_VERB + r"\s+(?:" + _W + r"){0,1}?(?:plus|jamais|pas)\b"
        r"|\bne  *(?:le|la|les|lui|leur|l')\s*" + _FR_VERB + r"\s+(?:" + _W + r"){0,2}?(?:plus|jamais)\b"
        r"|\bne  *(?:plus|jamais)\s+" + _FR_CLITIC + r"?(?:re)?" + _FR_VERB +
        r"|\bne  *pas\s+(?:m'|me\s+|nous\s+)(?:re)?" + _FR_VERB +
        r"|\bne  *(?:pas|plus)\s+(?:re)?contact\w*\s+(?:nos|notre)\b"
        r"|\bn'" + _FR_VERB + r"\s+(?:" + _W + r"){0,2}?(?:plus|jamais)\b"
        r"|\bne  *" + _FR_VERB + r"\s+(?:" + _W + r"){0,3}?(?:plus|jamais)\b"
        r"|\bplus jamais\s+(?:" + _W + r"){0,2}?" + _FR_VERB)),
    ("stop-contacting", _r(
        r"(?<!\bn'hésitez pas à )\b(?:cess|arrêt|arret|stopp|abstene|abstien)\w*\s+(?:de|d')\s*(?:m'|me\s+|nous\s+)?(?:" + _W + r"){0,1}?(?:" + _FR_VERB + r"|" + _FR_NOUN + r")"
        r"|\b(?:cess|arrêt|arret|stopp)\w*\s+(?:tout|toute|tous|toutes|vos|ces|cet|ce|les)\s+(?:" + _W + r"){0,1}?(?:" + _FR_NOUN + r"|contacts?)\b")),
    ("no-more-messages", _r(
        r"\b(?:je|nous|il|elle|le docteur|le dr|dr)\s+(?:" + _W + r"){0,1}?ne  *(?:souhait|veu|voul|désir|desir)\w*\s+(?:plus|pas|aucun|aucune|nullement)\s+(?:" + _W + r"){0,1}?"
        r"(?:recevoir|être|etre|que vous|de vos|d'autres|de|vos)\b"
        r"|\b(?:plus|aucun|aucune)\s+(?:d'|de\s+)?(?:autres?\s+)?" + _FR_NOUN + r"\s*(?:,\s*)?(?:merci|s'il vous pla[iî]t|svp|je vous prie|à l'avenir|désormais)"
        r"|\b(?:plus|aucun|aucune)\s+(?:d'|de\s+)?(?:autres?\s+)?" + _FR_NOUN + r"\s*[.!]*\s*\Z")),
    ("spam-report", _r(r"\b(?:signal|marqu|bloqu|déclar|declar)\w*\s+(?:" + _W + r"){0,3}?(?:comme\s+)?(?:spam|indésirable|indesirable|pourriel|courrier indésirable)\b|\bc'est du spam\b")),
    ("last-message", _r(r"\bc'est la dernière fois que je (?:vous|le)|\bdernier avertissement\b")),
]
_FR_ONE_LINER = _r(r"\A\s*(?:merci de\s+)?(?:stop|arrêtez|arretez|arrêtez svp|désinscription|desinscription|désabonnement|ça suffit)(?:\s*,?\s*(?:merci|svp|s'il vous plaît))?[.!]*\s*\Z")

# --- German --------------------------------------------------------------------------------------

_DE_VERB = (
    r"(?:kontaktier\w*|zu kontaktieren|anschreib\w*|anzuschreiben|angeschrieben|schreib\w*|geschrieben|zu schreiben|send\w*|zu senden|zuzusenden|zusend\w*|"
    r"schick\w*|zu schicken|zuzuschicken|mail\w*|anzumailen|belästig\w*|belaestig\w*|zu belästigen|behellig\w*|anfrag\w*|ansprech\w*|anzusprechen|"
    r"kontaktaufnahmen?|kontakt)"
)
_DE_NOUN = r"(?:e-?mails?|mails?|nachrichten|zuschriften|anfragen|kontaktaufnahmen?|kontakte?|zusendungen|werbung|newsletter|post|schreiben|spam|sendungen|anschreiben)"
_DE = [
    ("unsubscribe", _r(r"\babmelden\b|\babmeldung\b|\baustragen\b|\bausgetragen\b|\bdeabonnier\w*|\babbestell\w*")),
    ("remove-from-list", _r(
        r"\b(?:streichen|entfernen|löschen|loeschen)\s+sie\s+(?:" + _W + r"){0,3}?(?:mich|uns|meine|unsere|diese|herrn|frau|dr)\b"
        r"|\b(?:streich|entfern|lösch|loesch|nehm|trag)\w*\s+(?:" + _W + r"){0,4}?aus\s+(?:ihrem|ihrer|dem|der|ihren|allen)\s+(?:" + _W + r")?(?:verteiler\w*|liste|listen|mailingliste|adressliste|datenbank|kartei|adressbestand)\b"
        r"|\baus\s+(?:ihrem|ihrer|dem|der|ihren|allen)\s+(?:" + _W + r")?(?:verteiler\w*|mailingliste|adressliste|datenbank|kartei|adressbestand|liste)\s+(?:" + _W + r"){0,3}?(?:streichen|entfernen|löschen|nehmen|austragen|gestrichen|entfernt|gelöscht|genommen)\b")),
    ("negated-contact", _r(
        r"\b(?:kontaktieren|schreiben|senden|schicken|mailen|belästigen|behelligen|anschreiben)\s+sie\s+(?:(?:bitte|mich|uns|mir|ihm|ihr|unsere|unseren|dr|herrn|frau)\s+)+"
        r"(?:" + _W + r"){0,3}?(?:(?:nicht|nie|niemals)\b|(?:keine|keinen)\s+(?:(?:weiteren?|erneuten?)\s+)?(?:" + _DE_NOUN + r"|mehr)\b)(?!\s+(?:" + _W + r"){0,2}?(?:bevor|vor|direkt|sondern))"
        r"|\b(?:nicht|nie|niemals|keinesfalls)\s+(?:mehr|wieder|weiter|länger|erneut)\s+(?:" + _W + r"){0,3}?" + _DE_VERB + r"\b"
        r"|\bnicht\s+(?:" + _W + r"){0,2}?(?:mehr|weiter|länger)\s+(?:" + _W + r"){0,2}?" + _DE_VERB + r"\b"
        r"|\bnicht (?:mehr |länger |weiter )?(?:kontaktiert|angeschrieben|angemailt|angesprochen|belästigt) (?:zu )?werden\b")),
    ("stop-contacting", _r(
        r"\b(?:unterlassen|unterlasse|unterlass)\s+(?:sie\s+)?(?:" + _W + r"){0,3}?(?:" + _DE_NOUN + r"|zu schreiben|zu kontaktieren)\b"
        r"|\bsehen sie\s+(?:" + _W + r"){0,3}?von\s+(?:" + _W + r"){0,2}?(?:" + _DE_NOUN + r"|kontaktaufnahmen?)\s+ab\b"
        r"|\b(?:hören|hoeren) sie\s+(?:bitte\s+)?(?:endlich\s+)?(?:damit\s+)?auf\b")),
    ("no-more-messages", _r(
        r"\bkein\w*\s+(?:weiteren?|erneuten?)\s+" + _DE_NOUN + r"\b"
        r"|\bkein\w*\s+" + _DE_NOUN + r"\s+(?:" + _W + r"){0,2}?mehr\b"
        r"|\b(?:wünsche|wünschen|möchte|möchten|will|wollen)\s+(?:" + _W + r"){0,2}?kein\w*\s+(?:" + _W + r")?(?:kontakt\w*|e-?mails?|mails|nachrichten|zuschriften)\b"
        r"|\b(?:möchte|möchten|will|wollen|wünsche|wünschen)\s+(?:" + _W + r"){0,3}?(?:nicht mehr|nicht länger|nicht weiter)\s+(?:" + _W + r"){0,2}?(?:kontaktiert|angeschrieben|angemailt|erhalten|bekommen|belästigt)\b")),
    ("spam-report", _r(r"\b(?:als|wie)\s+spam\s+(?:" + _W + r"){0,1}?(?:melden|markieren|gemeldet|markiert|einstufen|behandeln)\b|\bspam-?(?:meldung|beschwerde)\b|\bdas ist spam\b")),
    ("last-message", _r(r"\bzum letzten mal\b|\bletzte warnung\b|\bdas letzte mal, dass ich\b")),
]
_DE_ONE_LINER = _r(r"\A\s*(?:bitte\s+)?(?:stopp?|abmelden|austragen|aufhören|hören sie auf|keine e-?mails mehr|keine mails mehr)(?:\s*,?\s*bitte|\s*,?\s*danke)?[.!]*\s*\Z")

# --- Portuguese ----------------------------------------------------------------------------------

_PT_VERB = (
    r"(?:contat\w*|contact\w*|escrev\w*|envi\w*|mand\w*|incomod\w*|entr\w*(?:\s+mais)?\s+em conta(?:c)?to|procur\w*|"
    r"ligu\w*|lig\w*|inclu\w*|adicion\w*|perturb\w*)"
)
_PT_ASK = r"(?:contat(?:e|em)|contact(?:e|em)|escrev(?:a|am)|envi(?:e|em)|mand(?:e|em)|procur(?:e|em)|incomod(?:e|em)|lig(?:ue|uem)|entr(?:e|em)\s+(?:mais\s+)?em conta(?:c)?to)"
_PT_NOUN = r"(?:e-?mails?|mensagens|mensagem|correspondências?|comunicações|comunicados|solicitações|cartas|propagandas?|spam|contatos?|contactos?)"
_PT = [
    ("unsubscribe", _r(r"\bdescadastr\w*|\bcancel\w* (?:a |o )?(?:minha |meu )?(?:inscrição|assinatura|cadastro)\b|\bdesinscrev\w*")),
    ("remove-from-list", _r(
        r"\b(?:remov|retir|tir|exclu|apag|delet|elimin)\w*-(?:me|nos)\b"
        r"|\b(?:remov|retir|tir|exclu|apag|delet|elimin)\w*\s+(?:" + _W + r"){0,4}?(?:da|das|do|dos|de)\s+(?:" + _W + r"){0,2}?(?:lista|listas|cadastro|base de dados|mailing|banco de dados|registros?|envios|contatos)\b")),
    ("negated-contact", _r(
        r"\bnão\s+(?:(?:me|nos|lhe|lhes|o|a|os|as|te|mais)\s+)?(?:volt\w+)\s+a\s+(?:(?:me|nos|lhe)\s+)?" + _PT_VERB +
        r"|\bnão\s+(?:(?:me|nos|lhe|lhes|te)\s+)?" + _PT_ASK + r"\b(?!\s+(?:o|a|os|as|seu|seus|sua|suas|outros?|outras?|um|uma|esse|essa|esses|essas)\s+(?!" + _PT_NOUN + r"))(?!\s+(?:" + _W + r"){0,3}?(?:até|antes|ainda|diretamente|e sim))"
        r"|\bnão\s+(?:(?:me|nos|lhe|lhes|te|se|mais|nunca|jamais)\s+)?(?!hesit|deix)" + _PT_VERB + r"\s+(?:" + _W + r"){0,3}?(?:mais|nunca|novamente|de novo|outra vez|no futuro)\b"
        r"|\bnão\s+(?:" + _W + r"){0,1}?mais\s+(?:(?:me|nos|lhe)\s+)?" + _PT_VERB +
        r"|\bnunca mais\s+(?:(?:me|nos|lhe)\s+)?" + _PT_VERB +
        r"|\b(?:que não|para não|a não)\s+(?:(?:me|nos|lhe|mais)\s+){0,2}?(?:" + _PT_ASK + r"|contatar-me|contactar-me|escrever-me|enviar-me|me contatar|me contactar|me escrever|me enviar|entr\w* em contato)\b")),
    ("stop-contacting", _r(
        r"(?<!\bnão )(?<!\bnão me )\b(?:pare|parem|parar|deixe|deixem|deixar|cesse|cessem|cessar|abstenha-se|abstenham-se|abster-se)\s+de\s+(?:(?:me|nos)\s+)?(?:" + _W + r"){0,1}?(?:" + _PT_VERB + r"|" + _PT_NOUN + r")"
        r"|\b(?:cess\w*|suspend\w*|interromp\w*)\s+(?:(?:todo|toda|todos|todas|o|a|os|as|seus|suas|qualquer)\s+)+(?:" + _W + r")?(?:" + _PT_NOUN + r"|envios?)\b")),
    ("no-more-messages", _r(
        r"\bnão\s+(?:(?:quero|desejo|queremos|desejamos|quer|deseja|preciso|aceito)\s+)(?:mais\s+)?(?:continuar a\s+|continuar\s+)?(?:receber|ser (?:contatad|contactad|incomodad)\w*|que (?:me|nos|lhe|o|a)|mais|nenhum|nenhuma|seus|suas|esses|essas)\b"
        r"|\b(?:nenhum|nenhuma|sem)\s+(?:(?:outro|outra|mais)\s+)" + _PT_NOUN + r"\b"
        r"|\bchega de\s+(?:" + _W + r")?" + _PT_NOUN + r"\b")),
    ("spam-report", _r(r"\b(?:denunci|report|marc|bloque|sinaliz)\w*\s+(?:" + _W + r"){0,3}?(?:como\s+)?(?:spam|lixo eletrônico|lixo eletronico|indesejad\w*)\b|\bisto é spam\b")),
    ("last-message", _r(r"\bé a última vez que (?:peço|digo)|\búltimo aviso\b")),
]
_PT_ONE_LINER = _r(r"\A\s*(?:por favor\s*,?\s*)?(?:pare|parem|chega|basta|descadastrar|stop)(?:\s*,?\s*por favor)?[.!]*\s*\Z")

# --- Italian -------------------------------------------------------------------------------------

_IT_VERB = (
    r"(?:contatt\w*|ricontatt\w*|scriv\w*|riscriv\w*|invi\w*|mand\w*|disturb\w*|sollecit\w*|includ\w*|aggiung\w*)"
)
# The forms a request takes: "non mi scriva", "non contattatemi", never "non la disturbi" (I hope it doesn't bother you).
_IT_ASK = r"(?:contatti|contattate|contattare|ricontatti|ricontattate|scriva|scrivete|scrivere|invii|inviate|inviare|mandi|mandate|mandare)"
_IT_NOUN = r"(?:e-?mail|mail|messaggi|messaggio|comunicazioni|lettere|richieste|newsletter|pubblicità|spam|contatti)"
_IT = [
    ("unsubscribe", _r(r"\bdisiscriv\w*|\bdisiscrizione\b|\bcancellatemi\b|\bcancellami\b|\bcancellarmi\b")),
    ("remove-from-list", _r(
        r"\b(?:rimuov|rimoss|cancell|elimin|togli|tolg|depenn)\w*(?:mi|ci|temi|teci)?\s+(?:" + _W + r"){0,4}?(?:dalla|dalle|dal|dai|dagli|da)\s+(?:" + _W + r"){0,2}?(?:lista|liste|mailing|indirizzario|database|elenco|banca dati|archivio)\b"
        r"|\b(?:rimuovetemi|rimuovermi|toglietemi|toglimi|eliminatemi|depennatemi)\b")),
    ("negated-contact", _r(
        r"\bnon\s+(?:(?:mi|ci|la|lo|le|gli|vi|ti)\s+)?(?!esit)" + _IT_VERB + r"\s+(?:" + _W + r"){0,3}?(?:più|piu|mai|ancora|nuovamente|in futuro)\b"
        r"|\bnon\s+(?!esit)" + _IT_VERB + r"(?<=mi|ci)\b"
        r"|\bnon\s+(?:(?:mi|ci|la|lo|le|gli)\s+)" + _IT_ASK + r"\b(?!\s+(?:il|lo|la|i|gli|le|altri|altre|altro|altra|un|una|questi|queste|quei|quelle|ulteriori)\s+(?!" + _IT_NOUN + r"))(?!\s+(?:" + _W + r"){0,3}?(?:fino|prima|ancora|direttamente))"
        r"|\b(?:di non|a non|che non)\s+(?:(?:mi|ci|la|lo|le|gli|più)\s+){0,2}?(?:" + _IT_ASK + r"|contattarmi|contattarci|scrivermi|scriverci|inviarmi|mandarmi|ricontattarmi)\b"
        r"|\bmai più\s+(?:(?:mi|ci)\s+)?" + _IT_VERB)),
    ("stop-contacting", _r(
        r"(?<!\bnon )\b(?:smett\w*|cess\w*|astene\w*|astien\w*|la smetta|la finisca)\s+(?:di|con)\s+(?:(?:mi|ci)\s+)?(?:" + _W + r"){0,1}?(?:" + _IT_VERB + r"|" + _IT_NOUN + r")")),
    ("no-more-messages", _r(
        r"\bnon\s+(?:(?:voglio|desidero|vogliamo|desideriamo|vuole|desidera|gradisco|gradiamo|accetto)\s+)(?:più\s+)?(?:ricevere|essere (?:contattat|disturbat)\w*|che (?:mi|ci|lo|la)|altre|altri|ulteriori|le sue|i suoi|queste|questi)\b"
        r"|\b(?:nessun|nessuna|niente)\s+(?:altra|altro|altre|altri|ulteriore|ulteriori|più)\s+" + _IT_NOUN + r"\b|\bbasta\s+(?:con\s+)?(?:le\s+|queste\s+)?" + _IT_NOUN + r"\b")),
    ("spam-report", _r(r"\b(?:segnal|contrassegn|marc|blocc)\w*\s+(?:" + _W + r"){0,3}?(?:come\s+)?(?:spam|posta indesiderata|indesiderat\w*)\b|\bquesto è spam\b")),
    ("last-message", _r(r"\bè l'ultima volta che (?:glielo|le|te lo|ve lo) (?:chiedo|dico)|\bultimo avviso\b")),
]
_IT_ONE_LINER = _r(r"\A\s*(?:per favore\s*,?\s*)?(?:basta|smettetela|smettila|la smetta|stop|cancellatemi)(?:\s*,?\s*(?:per favore|grazie))?[.!]*\s*\Z")

_LANGUAGES: list[tuple[str, list[tuple[str, re.Pattern[str]]], re.Pattern[str]]] = [
    ("en", _EN, _EN_ONE_LINER),
    ("es", _ES, _ES_ONE_LINER),
    ("fr", _FR, _FR_ONE_LINER),
    ("de", _DE, _DE_ONE_LINER),
    ("pt", _PT, _PT_ONE_LINER),
    ("it", _IT, _IT_ONE_LINER),
]

# Cheap anchors: a language's rules run only when one of its words is in the lower-cased text
# (tests/test_classify_prefilter.py checks that every rule needs one of them).
_WORDS = {
    "en": ("subscrib", "opt", "remov", "delet", "take", "taking", "drop", "strike", "erase", "purge", "scrub", "exclud", "unlist",
           "get me", "get us", "not", "n't", "never", "no ", "no longer", "stop", "quit", "ceas", "discontinu", "refrain", "desist", "halt",
           "end ", "further", "additional", "any more", "wish", "want", "rather", "prefer", "interest", "ask", "request", "instruct",
           "would like", "spam", "report", "flag", "mark", "block", "filter", "last", "final", "alone", "lose", "lost", "cease", "enough",
           "don", "dont", "do no", "next", "future", "another"),
    "es": ("baja", "borr", "bórr", "suficiente", "que no", "a no", "de no", "ya no", "suscrib", "inscrib", "elim", "borr", "quit", "quít", "sac", "saq", "sáq", "retir", "retír", "excl", "no ", "nunca",
           "dej", "par", "ces", "abst", "suspend", "deten", "más", "otro", "otra", "ningun", "ningún", "spam", "correo no deseado",
           "correo basura", "última", "último", "basta", "alto", "stop"),
    "fr": ("inscri", "abonn", "retir", "supprim", "enlev", "ray", "effac", "ne ", "n'", "plus", "cess", "arrêt", "arret",
           "stopp", "absten", "abstien", "aucun", "spam", "indésirable", "indesirable", "pourriel", "dernier", "dernière", "stop",
           "suffit"),
    "de": ("abmeld", "austrag", "ausgetragen", "abonn", "abbestell", "streichen", "entfernen", "löschen", "loeschen", "nehmen", "aus ",
           "nicht", "nie", "keinesfalls", "werden", "unterlass", "sehen sie", "hören sie", "hoeren sie", "kein", "bitte", "wünsch",
           "möcht", "will", "woll", "spam", "letzte", "stop", "aufhören", "streich", "entfern", "nehm", "trag", "lösch", "loesch", "aus"),
    "pt": ("cadastr", "cancel", "inscrev", "remov", "retir", "tir", "exclu", "apag", "delet", "elimin", "não", "nunca", "par", "deix",
           "cess", "abst", "suspend", "interromp", "nenhum", "sem", "chega", "spam", "lixo", "indesejad", "última", "último", "basta",
           "stop"),
    "it": ("iscri", "iscriz", "cancell", "rimuov", "rimoss", "elimin", "togli", "tolg", "depenn", "non", "mai più", "smett", "cess",
           "asten", "astien", "la smetta", "la finisca", "nessun", "basta", "niente", "spam", "indesiderat", "ultima", "ultimo", "stop"),
}

# Our own opt-out line and conditional offers pasted back unquoted: never the writer's request.

LANGUAGES = _LANGUAGES
WORDS = _WORDS
EN_NOUN = _EN_NOUN
