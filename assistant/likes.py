"""What a history item says the customer likes, in its own words: the grammar of liking in
our five languages (a verb of liking, a habit of ordering, an idiom, praise), never a list of
items. "Loves the cardamom buns from the lobby bakery" -> "cardamom buns from the lobby
bakery"; "Mag keine Rosinen" -> nothing. Measured on `tests/data/history-formats.jsonl`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .items import item_name

# How people state what they like, before the thing itself: grammar, not a list of items.
# A habit of buying or having something counts as liking it ("usually orders the …", "tar
# alltid …", "trinkt gern …"): the verbs of ordering, buying, eating and drinking, with the
# adverbs of habit around them.
# How often (a habit) and how gladly (a preference, often of a kind: "trägt am liebsten
# Naturfasern"); only how often makes any verb a habit (_ANY_HABIT).
_FREQUENTLY = (r"(?:usually|always|often|mostly|normally|typically|(?:almost|nearly)\s+always|"
               r"as\s+a\s+rule|most\s+of\s+the\s+time|more\s+often\s+than\s+not|alltid|"
               r"oftast|ofta|nästan\s+alltid|för\s+det\s+mesta|som\s+regel|i\s+regel|"
               r"mestadels|altid|ofte|næsten\s+altid|for\s+det\s+meste|som\s+oftest|"
               r"nesten\s+alltid|stort\s+sett|i\s+regelen|immer|meistens|meist|oft|"
               r"fast\s+immer|in\s+der\s+regel|every\s+time|each\s+time|varje\s+gång|"
               r"hver\s+gang|jedes\s+mal)")
_OFTEN = (rf"(?:{_FREQUENTLY}|gärna|gerne|gjerne|gern|helst|am\s+liebsten|besonders\s+gerne?|"
          r"vor\s+allem)")
_NEVER = r"(?:never|aldrig|aldri|nie|niemals)"
_LEAVES = (r"(?:leaves|goes\s+home|går(?:\s+(?:hem|hjem))?|drar(?:\s+hjem)?|geht"
           r"(?:\s+nach\s+hause)?)")
_MISSES = (r"(?:misses|skips|missar|misser|hoppar\s+över|springer\s+over|hopper\s+over|"
           r"går\s+glipp\s+av|verpasst)")
_HABIT = (r"(?:orders|buys|takes|drinks|eats|gets|picks|chooses|books|reserves|collects|"
          r"goes\s+for|asks\s+for|beställer|köper|tar|dricker|äter|väljer|bokar|"
          r"samlar\s+på|samler\s+på|sammelt|"
          r"brukar\s+\w+|bestiller|køber|tager|drikker|spiser|vælger|booker|"
          r"plejer\s+at\s+\w+|kjøper|velger|pleier\s+å\s+\w+|"
          r"bestellt|kauft|nimmt|trinkt|isst|wählt|bucht|reserviert|pflegt\s+\w+\s+zu)")
# Who a note says it of: "She loves …", "Hon älskar …", "Kunde mag …"; or, before a verb of
# liking, anyone the customer brings, in two words at most ("Hans kone er vild med …", "Die
# Kinder lieben …", "My husband adores …"), unless those words deny it ("Nobody likes …").
_WHO = (r"(?:he|she|they|customer|guest|client|the\s+(?:customer|guest|client)|hon|han|hun|"
        r"hen|de|kunden|kunde|gästen|gæsten|gjesten|sie|er|der\s+(?:kunde|gast)|die\s+kundin)")
# How much, before an adjective of liking ("er særligt glad for", "is especially fond of").
_DEGREE = (r"(?:(?:very|really|so|particularly|especially|extremely|also|meget|så|særlig|"
           r"særligt|rigtig|virkelig|utrolig|utroligt|veldig|svært|spesielt|väldigt|"
           r"mycket|särskilt|verkligen|otroligt|jätte|helt|også|också|sehr|besonders|wirklich|"
           r"ganz|auch)\s+){0,2}")
# The verbs of liking themselves, in each language (a plural subject too: "Their twins love").
_LIKING_VERBS = (
    r"(?:really\s+)?(?:likes?|loves?|enjoys?|prefers?|adores?)|"
    rf"tycker\s+{_DEGREE}om|älskar|gillar|föredrar|"
    rf"är\s+{_DEGREE}förtjust\s+i|(?:er\s+)?{_DEGREE}glad\s+i|"
    rf"er\s+{_DEGREE}(?:vild|vilde)\s+med|er\s+{_DEGREE}glad\s+(?:for|med)|"
    r"elsker|kan\s+lide|liker|foretrekker|foretrækker|digger|"
    r"mag|mögen|liebt|lieben|bevorzugt|bevorzugen|schwärm\w*\s+für|"
    # Children nag for what they want: "Barna maser alltid om …", "pester us for …".
    rf"(?:{_FREQUENTLY}\s+)?(?:nags?|pesters?|begs?|maser|maste|tjatar|tjatade|plager|"
    r"quengeln|quengelt|betteln|bettelt)(?:\s+(?:us|me|them))?\s+"
    rf"(?:{_FREQUENTLY}\s+)?(?:for|about|om|efter|etter|nach|um)")
_SOMEONE_LIKES = re.compile(
    rf"^(?P<who>(?:[^\W\d_]+\s+)?[^\W\d_]+)\s+(?:{_LIKING_VERBS}|"
    r"(?:is|are)\s+(?:crazy|mad)\s+about|goes?\s+(?:mad|crazy|wild)\s+for)\s+",
    re.IGNORECASE)
_NOBODY = re.compile(r"(?:nobody|no\s+one|none|ingen|niemand|keiner|keine)\b", re.IGNORECASE)
_LIKES = re.compile(
    rf"^(?:{_WHO}\s+)?(?:"
    # Idioms of liking, before the habit verbs ("has a weakness for" is no habit of having).
    r"has\s+a\s+(?:real\s+|big\s+)?weakness\s+for|swears\s+by|can'?t\s+resist|"
    rf"(?:is\s+)?(?:{_FREQUENTLY}\s+)?(?:raves|raving|gushes|gushing)\s+about|"
    r"(?:has\s+)?(?:fallen|fell)\s+for|(?:got\s+|is\s+)?hooked\s+on|"
    r"(?:har\s+)?(?:fastnat|fallit)\s+för|(?:er\s+)?faldet\s+for|(?:har\s+)?falt\s+for|"
    # Delight: "er over seg av begeistring for", "er helt begejstret for", "verrückt nach".
    rf"(?:er\s+|ist\s+)?{_DEGREE}(?:over\s+seg\s+av\s+begeistring\s+for|begeistret\s+(?:for|over)|"
    r"begejstret\s+(?:for|over)|entusiastisk\s+över|begeistert\s+von|verrückt\s+nach|"
    r"wild\s+auf)|"
    r"(?:is\s+)?(?:really\s+|totally\s+|very\s+much\s+)?into|(?:is\s+)?partial\s+to|"
    r"(?:is\s+)?a\s+(?:real\s+|big\s+)?sucker\s+for|goes\s+(?:mad|crazy|wild)\s+for|"
    r"har\s+en\s+(?:stor\s+)?(?:svaghet\s+för|svaghed\s+for|svakhet\s+for)|"
    r"kan\s+inte\s+motstå|är\s+(?:helt\s+)?såld\s+på|kan\s+ikke\s+(?:stå\s+for|modstå|"
    r"motstå|stå\s+imot)|er\s+vild\s+efter|er\s+svak\s+for|"
    r"hat\s+eine\s+(?:große\s+|echte\s+)?schwäche\s+für|schwört\s+auf|"
    r"svärmar\s+för|sværmer\s+for|sverger\s+til|"
    r"steht\s+(?:total\s+|voll\s+|sehr\s+|richtig\s+)?auf|"
    rf"{_LIKING_VERBS}|"
    r"(?:sehr\s+|mycket\s+|meget\s+|veldig\s+)?(?:gerne|gern|gärna|gjerne|helst|"
    r"am\s+liebsten|preferably|ideally)|"  # a note's verbless "Gerne Hafercappuccino"
    r"(?:favou?rite|favorit|favoritt|lieblings\w*|preference)(?:\s+is)?:?|"
    r"(?:is\s+)?(?:an?\s+)?(?:\w+\s+)?fan\s+(?:of|von|av|af)|can'?t\s+get\s+enough\s+of|"
    r"kan\s+inte\s+få\s+nog\s+av|kan\s+ikke\s+få\s+nok\s+(?:af|av)|"
    r"(?:kann|bekommt|kriegt)\s+nicht\s+genug\s+(?:bekommen\s+)?(?:von|vom)|"
    rf"(?:is\s+)?{_DEGREE}fond\s+of|has\s+a\s+(?:soft|weak)\s+spot\s+for|"
    r"has\s+a\s+(?:real\s+)?(?:fondness|liking)\s+for|(?:really\s+)?appreciates|"
    r"(?:setter|sætter|sätter)\s+(?:\w+\s+)?pris\s+på|(?:verkligen\s+)?uppskattar|"
    r"har\s+(?:et|ett|en)\s+(?:stort\s+)?(?:svagt|svakt|svag)\s+punkt\s+f(?:o|ö)r|"
    r"har\s+(?:en|ei)\s+(?:stor\s+)?(?:förkärlek\s+för|forkærlighed\s+for|"
    r"forkjærlighet\s+for)|hat\s+(?:ein|eine)\s+(?:große\s+)?(?:faible|vorliebe)\s+für|"
    r"(?:is\s+)?(?:crazy|mad|obsessed)\s+(?:about|with)|"
    r"(?:keeps\s+)?(?:coming|comes)\s+back\s+for|"
    # "Her go-to is …", "His usual is …".
    r"(?:his|her|their|hans|hennes|hendes|deras|deres|seine?|ihre?)\s+(?:go-to|fave|"
    r"favou?rite|usual|favorit|favoritt|lieblings\w*)(?:\s+[\w-]+)?\s+(?:is|are|är|er|ist)|"
    # Never without it, never missing it: "Never leaves without …", "Missar aldrig …".
    rf"(?P<never>(?:{_NEVER}\s+{_LEAVES}|{_LEAVES}\s+{_NEVER})(?:\s+(?:home|hem|hjem|heim))?"
    rf"\s+(?:without|utan|uden|uten|ohne)|{_NEVER}\s+{_MISSES}|{_MISSES}\s+{_NEVER})|"
    # Asks after it every time: "Fragt jedes Mal nach …", "Spørger hver gang efter …".
    rf"(?:fragt|frågar|spør|spørger)(?:\s+{_OFTEN})?\s+(?:nach|efter|etter)|"
    rf"(?:{_OFTEN}\s+)?{_HABIT}(?:\s+{_OFTEN})?(?:\s+(?:for|to|on|of))?|"
    # "has" is a habit only with its adverb ("usually has the soup"; "has volumes 1-4" no).
    rf"(?:{_OFTEN}\s+has|has\s+{_OFTEN})|"
    # A label that says what follows is liked ("Regular order: …", "Fave drink = …",
    # "Favorit: …"); "Diet: vegan", "Segment: Gold" or "Allergies: nuts" say no such thing.
    r"(?:[\w'-]+\s+){0,2}?[\w-]*(?:fav|lieblings|yndlings|prefer|pref|usual|regular|go-to|"
    r"standard|stamm|like|love|order|bestill|beställ|bestell|drink|dryck|drikk|getränk|treat|"
    r"wish|saved|interest)[\w-]*\s*[:=])"
    r"(?![^\W\d_])\s*", re.IGNORECASE)  # a whole word: not "into" in "intolerant"
# A stated dislike is no gesture ("Dislikes coriander", "Mag keine Rosinen", "Liker ikke …").
_NEGATED = re.compile(
    r"\b(?:not|never|no(?!-)|dislikes?|hates?|can'?t\s+stand|allerg\w*|inte|ej|aldrig|ogillar|hatar|avskyr|"
    r"ikke|aldri|hader|hater|misliker|nicht|nie|kein\w*|hasst)\b|n't\b", re.IGNORECASE)
# A like said as praise of the thing: "Says the walnut loaf is the best thing we bake",
# "The pistachio croissant is her favourite", "Synes at jeres gulerodskage er den bedste",
# "Findet unseren Apfelkuchen einfach großartig". Only praise counts ("the worst part" no).
_PRAISE = (r"(?:(?:simply|just|absolutely|really|so|truly|einfach|wirklich|helt|bare|så)\s+)?"
           r"(?:(?:the|det|den|de|das|der|die)\s+)?(?:best|bästa|bedste|beste|besten|highlight|"
           r"(?:(?:his|her|their|hans|hennes|hendes|ihr|sein)\s+)?\w*fav\w*|lieblings\w*|"
           r"amazing|wonderful|delicious|great|perfect|fantastic|superb|underbar|fantastisk|"
           r"lækker|herlig|nydelig|großartig|toll|köstlich|lecker|wunderbar|spitze|klasse|"
           # "… are her guilty pleasure", "… är hans stora svaghet", "… sind ihre Schwäche"
           r"(?:(?:his|her|their|hans|hennes|hendes|deras|deres|ihre?|seine?|an?|en|ei|ett|"
           r"et|eine?)\s+)?(?:(?:big|biggest|real|stora|store|große|größte)\s+)?"
           r"(?:guilty\s+pleasure|weakness|svaghet|svaghed|svakhet|schwäche))\b")
_SAYS = (r"(?:says|said|thinks|finds|feels|told\s+(?:us|me)|tycker|anser|säger|berättade|"
         r"synes|siger|fortalte|mener|sier|meint|sagt|findet|erzählte),?")
_PRAISED = re.compile(
    rf"^(?:{_SAYS}\s+(?:that\s+|att\s+|at\s+|dass\s+)?)?(?P<item>.+?)\s+"
    rf"(?:is|are|was|were|är|var|er|ist|sind|war)\s+{_PRAISE}|"
    rf"^(?:finds|findet)\s+(?P<found>.+?)\s+{_PRAISE}", re.IGNORECASE)
# What they would like to have or try: an interest is a gesture too, ranked as a like
# ("Keen on the new forecasting module", "Spurgte om vi sælger en cykeltaske").
_INTEREST = re.compile(
    rf"^(?:{_WHO}\s+)?(?:"
    r"(?:wish\s*list|wishes|wish|saved(?:\s+items?)?|interests?)\s*:|"  # a wishlist's items
    r"(?:is\s+|are\s+)?(?:very\s+|really\s+|quite\s+)?(?:keen\s+on|interested\s+in|"
    r"curious\s+about)|(?:is\s+|are\s+)?keen\s+to\s+(?:try|get|have)|"
    r"(?:would\s+(?:love|like)|wants?|is\s+dying|'d\s+(?:love|like))\s+to\s+(?:try|have|get)|"
    r"(?:has\s+been\s+)?eyeing|has\s+(?:had\s+)?(?:an?|her|his|their)\s+eye\s+on|"
    r"(?:has\s+)?asked\s+(?:us\s+)?(?:whether|if)\s+we\s+(?:sell|have|stock|carry|offer|do)|"
    r"(?:has\s+)?asked\s+(?:us\s+)?about|(?:(?:har\s+)?(?:frågade|frågat)\s+(?:om|efter)|"
    r"(?:har\s+)?(?:spurgte|spurgt)\s+(?:om|efter|til)|"
    r"(?:har\s+)?(?:spurte|spurt)\s+(?:om|etter))(?!\s+vi\b)|fragte\s+nach|"
    r"(?:är\s+)?(?:mycket\s+)?(?:intresserad\s+av|nyfiken\s+på|sugen\s+på)|"
    r"vill\s+(?:gärna\s+)?(?:prova|testa|smaka)|(?:gärna|gerne|gjerne)\s+vil{1,2}\s+"
    r"(?:prova|testa|smaka|prøve|teste|smage|smake)|"
    r"(?:would\s+love|'d\s+love|would\s+like)\s+to\s+taste|(?:har\s+)?frågat?\w*\s+om\s+vi\s+(?:har|säljer)|"
    r"(?:er\s+)?(?:meget\s+|veldig\s+)?(?:interesseret\s+i|interessert\s+i|"
    r"nysgerrig\s+på|nysgjerrig\s+på)|vil\s+(?:gerne\s+|gjerne\s+)?(?:prøve|teste|smage|smake)|"
    r"(?:har\s+)?(?:spurgte|spurgt|spurte|spurt)\s+om\s+vi\s+(?:har|sælger|selger)|"
    r"har\s+(?:et\s+)?(?:kig|øje|øye)\s+på|har\s+lyst\s+på|"
    r"interessiert\s+sich\s+(?:sehr\s+)?für|(?:ist\s+)?neugierig\s+auf)\s+"
    # German puts the verb last: "möchte mal unseren Barista-Kurs ausprobieren".
    r"|^(?:möchte|würde|will)\s+(?:gerne?\s+)?(?:mal\s+)?(?=.+\s(?:aus)?(?:probieren|testen)$)"
    r"|^hat\s+ein\s+auge\s+auf\s+(?=.+\sgeworfen$)"
    r"|^(?:hat|hatte)\s+sich\s+nach\s+(?=.+\s(?:erkundigt|informiert)$)"
    r"|^(?:hat|hatte)\s+nach\s+(?=.+\sgefragt$)"
    r"|^erkundigte\s+sich\s+nach\s+", re.IGNORECASE)
_VERB_LAST = re.compile(r"\s+(?:(?:aus)?probieren|testen|geworfen|erkundigt|informiert|gefragt)$",
                        re.IGNORECASE)
# Any verb with an adverb of habit is a habit too ("Always adds the scalp massage", "Hyr
# nästan alltid tandemcykeln", "Mietet meistens das E-Bike"), so the verbs of taking need no
# list; the habits that are no liking do ("always complains about", "glemmer altid"), and so
# do the words that start no item ("comes in late", "kommer alltid för sent").
_ANY_HABIT = re.compile(
    rf"^(?:{_WHO}\s+)?(?:{_FREQUENTLY}\s+(?P<verb>[^\W\d_]+(?:-[^\W\d_]+)?)|"
    rf"(?P<verb_first>[^\W\d_]+)(?:\s+(?:sich|sig|seg))?\s+{_FREQUENTLY})\s+"
    r"(?:(?:sich|sig|seg)\s+)?(?:(?:ha|have|haben|få|get)\s+)?",  # "Vill alltid ha …"
    re.IGNORECASE)
_NO_LIKING = re.compile(
    r"(?:complain|return|forget|lose|loses|lost|cancel|pay|dispute|leave|call|bring|tip|park|"
    r"sit|arrive|come|miss|skip|decline|refuse|avoid|klaga|klage|beschwer|returner|"
    r"lämnar|efterlad|forlat|läss|glöm|glem|vergiss|vergess|tappa|förlora|mister|taber|"
    r"verlier|avbok|afbestil|avbestil|storn|sagt|betal|zahl|ring|ruft|kommer|kommt|sitt|"
    r"sidd|sitz|parker|tar\s+med|tager\s+med)", re.IGNORECASE)
_NO_ITEM_START = re.compile(
    r"(?:about|at|in|from|by|late|early|after|before|up|out|back|off|away|home|there|here|"
    r"too|om|i|med|efter|från|sent|tidigt|hem|fra|tidlig|tidligt|hjem|zu|über|mit|nach|von|"
    r"bei|spät|früh|heim|zurück|tilbage|tillbaka|tilbake|for\s+sent|för\s+sent)\b",
    re.IGNORECASE)
_PAYS = re.compile(r"(?:pay|betal|zahl)", re.IGNORECASE)
# A verb of choosing may take its preposition: "upgrades to the lounge pass", "opts for".
_CHOSEN = re.compile(r"^(?:to|for|on|with|till|för|på|til|auf|für)\s+", re.IGNORECASE)
# What a support note asks about is a matter to settle, not something to give: "interested
# in a better price", "asked about the status of her refund".
_MATTER = re.compile(
    r"\b(?:status|refund\w*|invoice\w*|bill|billing|price\w*|discount\w*|delay\w*|"
    r"contract\w*|cancel\w*|complaint\w*|compensation|faktura\w*|rechnung\w*|pris\w*|"
    r"preis\w*|rabat\w*|återbetal\w*|refusion\w*|tilbakebetal\w*|rückerstatt\w*|"
    r"erstattung\w*|försening\w*|forsinkelse\w*|verspätung\w*|avtal\w*|aftale\w*|"
    r"avtale\w*|vertrag\w*|kündig\w*|opsig\w*|reklamation\w*|beschwerde\w*|klage\w*|"
    r"payments?|instal+ments?|deadlines?|betalning\w*|betaling\w*|zahlung\w*|frist\w*|"
    r"fees?|charges?|delivery|shipping|tracking|opening\s+hours|avgift\w*|gebyr\w*|"
    r"gebühr\w*|leverans\w*|levering\w*|lieferung\w*|versand\w*|frakt\w*|"
    r"öppettid\w*|åbningstid\w*|åpningstid\w*|öffnungszeit\w*|settings?|set-?up|"
    r"configur\w*|passwords?|log-?in|accounts?|install\w*|instructions?|manuals?|"
    r"warrant\w*|compatib\w*|inställning\w*|indstilling\w*|innstilling\w*|"
    r"einstellung\w*|lösenord\w*|adgangskode\w*|passord\w*|passwort\w*|konto\w*|"
    r"garanti\w*|anleitung\w*)\b",
    re.IGNORECASE)
# How the customer wants to be dealt with is no gift either: "Prefers contact by email",
# "Bevorzugt Rechnungen per Post", "Liker best kommunikasjon på engelsk". Channels, contact,
# papers and languages are a small closed class of words, unlike the things people like.
_DEALINGS = re.compile(
    r"\b(?:e-?mails?|mejl\w*|e-?post\w*|phone\s+calls?|calls|telephone|telefon\w*|"
    r"anruf\w*|sms\w*|text\s+messages?|whats\s?app|newsletters?|nyhetsbrev\w*|"
    r"nyhedsbrev\w*|notifications?|varsling\w*|benachrichtigung\w*|contact|kontakt|"
    r"(?:live\s+)?chat(?:\s+support)?|phone\s+support|"
    r"kontakten|communications?|kommunikation|kommunikasjon|receipts?|kvitt(?:o|on|er|ering)\w*|"
    r"quittung\w*|paperless|papperslös\w*|invoices?|"
    r"(?:by|per|via|med|mit\s+der)\s+(?:post|mail|brev|letter)|"
    r"(?:in|på|auf)\s+(?:english|engelska|engelsk|englisch|swedish|svenska|svensk|"
    r"schwedisch|danish|danska|dansk|dänisch|norwegian|norska|norsk|norwegisch|german|"
    r"tyska|tysk|deutsch))\b", re.IGNORECASE)
# Whom they buy for is no item ("Orders for his mother", "Beställer till hela kontoret", "Kjøper
# alltid til kona"): the people a customer brings or buys for, a small class in any language.
_SOMEONE = re.compile(
    r"^(?:(?:for|till|til|für|to)\s+)?(?:(?:his|her|their|my|the|sin|sitt|sina|hans|hennes|"
    r"deras|hendes|deres|ihre[mnr]?|seine[mnr]?|die|den|das|dem|der|hela|hele|whole|ganze[nm]?)"
    r"\s+){0,2}(?:mother|mum|mom|father|dad|parents|wife|husband|partner|son|daughter|kids|"
    r"children|family|team|office|colleagues|staff|boss|friends?|guests|mamma|pappa|fru|frun|"
    r"mannen|sambo|sambon|dotter|dottern|barn|barnen|familj|familjen|kontoret|kollegor|"
    r"kollegorna|mor|far|kone|kona|mand|manden|søn|sønnen|datter|datteren|børn|børnene|barna|"
    r"familie|familien|kolleger|kollegaer|mutter|vater|eltern|frau|mann|sohn|tochter|kinder|"
    r"büro|kollegen|chef|chefin)(?=\s*$|\s+(?:every|each|too|also|varje|hver|jeden|jede|auch|"
    r"också|også|och|og|and|und|i|på|om|am|on|at|in)\b)", re.IGNORECASE)  # not "team jersey"
# A diet said as what they take ("dricker bara laktosfritt", "spiser kun glutenfrit"): a
# word for "free of …" alone is no item.
_FREE_OF = re.compile(r"^(?:(?:only|just|bara|bare|kun|nur)\s+)?[^\W\d_]+"
                      r"(?:free|fri|fritt|frit|frie|frei|freie[nmrs]?)"
                      r"(?:\s+(?:now|nowadays|nu|nå|numera|jetzt))?$", re.IGNORECASE)
# What they like to do, not an item: "to sit outside", "best å sitte ute", "zu sitzen",
# "cancelling the contract".
_DOING = re.compile(r"(?:(?:best|helst|most|am\s+liebsten)\s+)?(?:to|att|å|at|zu)\s|"
                    r"\w+ing\s+(?:the|a|an|my|his|her|their|our|your|it)\b", re.IGNORECASE)
_CLAUSES = re.compile(r"(?<!\b\d)[.;!]\s+|;\s*")  # not "1. klasse"
_AFTER_COMMA = re.compile(r",\s+|\s+[-–—]\s+")  # "Regular - always gets the chai latte"
# A note may open with when or where ("After class she always grabs …"); the like is then
# said by the subject after it. English keeps its order; Nordic and German put the verb
# before the subject ("Efter passet tar hon alltid …", "Nach dem Training nimmt sie …").
_FRONTED = re.compile(
    r"^(?:after|before|on|at|during|between|when|whenever|once|in)\s+(?:[^\W\d_]+\s+){0,3}?"
    r"(?P<who>he|she|they)\s+(?P<rest>.+)$", re.IGNORECASE)
_FRONTED_VERB_FIRST = re.compile(
    r"^(?:efter|före|innan|under|på|etter|før|inden|nach|vor|bei|beim|im|am|zum|zur|"
    r"während)\s+(?:[^\W\d_]+\s+){0,3}?(?P<verb>[^\W\d_]+)\s+"
    r"(?P<who>hon|han|hun|hen|sie|er)\s+(?P<rest>.+)$", re.IGNORECASE)


# What the customer told us, reported: "Told us on the phone that she loves …", "Nämnde att
# hennes barn älskar …", "Har fortalt at datteren er glad i …", "Sagte, dass sie … liebt".
_WORDS_BEFORE = r"\b(?:\s+[^\W\d_]+){0,3}\s*,?\s+"  # "on the phone", "am Telefon,"
# The word for "that" may be left out before a subject ("Kunden sa han elsker …").
_REPORTED = re.compile(
    rf"^(?:{_WHO}\s+)?(?:(?:told\s+us|has\s+told\s+us|mentioned|mentions|said|says)"
    rf"{_WORDS_BEFORE}"
    r"(?:that\s+|(?=(?:he|she|they)\s))|"
    rf"(?:nämnde|nämner|sa|sade|berättade|har\s+(?:nämnt|berättat|sagt)){_WORDS_BEFORE}"
    r"(?:att\s+|(?=(?:hon|han|hen|de)\s))|"
    rf"(?:nævnte|nævner|sagde|fortalte|nevnte|sa|har\s+(?:nevnt|fortalt|sagt|nævnt))"
    rf"{_WORDS_BEFORE}(?:at\s+|(?=(?:hun|han|de)\s))|"
    rf"(?:sagte|erwähnte|erzählte|meinte|hat(?:\s+(?:uns|mir))?\s+(?:gesagt|erzählt|erwähnt))"
    rf"{_WORDS_BEFORE}(?:dass\s+|(?=(?:sie|er)\s)))"
    r"(?P<rest>.+)$", re.IGNORECASE)
# German puts the verb of a "dass" clause last: "dass sie unseren Mohnstollen liebt".
_VERB_LAST_LIKE = re.compile(
    r"^(?P<who>(?:[^\W\d_]+\s+)?[^\W\d_]+)\s+(?P<item>.+?)\s+"
    r"(?P<verb>liebt|lieben|mag|mögen|bevorzugt|bevorzugen|vergöttert)$", re.IGNORECASE)


def _unreported(clause: str) -> str:
    """What was reported, in place of the report: 'Sagte, dass sie unseren Mohnstollen
    liebt' -> 'sie liebt unseren Mohnstollen' (the report's own words are no item)."""
    if not (found := _REPORTED.match(clause)):
        return clause
    rest = found["rest"]
    if last := _VERB_LAST_LIKE.match(rest):
        return f"{last['who']} {last['verb']} {last['item']}"
    return rest


def _unfronted(clause: str) -> str | None:
    """'Efter passet tar hon alltid en kaka' -> 'hon tar alltid en kaka'."""
    if found := _FRONTED.match(clause):
        return f"{found['who']} {found['rest']}"
    if found := _FRONTED_VERB_FIRST.match(clause):
        return f"{found['who']} {found['verb']} {found['rest']}"
    return None


# A preference item says by its kind that its thing is liked, so where no grammar of liking
# is found its object may still be read from the sentence's shape, in words never listed:
# after the business's own possessive ("Schätzt unseren Apfelstrudel", "Lever för våra
# kanelsnäckor"), a preposition of feeling ("Raves about the ramen", "Big on the spicy
# wings", "Kommt wegen der Maultaschen"), or a copula ("Her thing is the eggs benedict").
# Not after "with", "at" or "in" (where and how: "Works at the hospital"), nor after a
# verb's bare object ("Drives the blue Volvo"); after a preposition only with an article, as
# Danish "to" is two and "til kona" a recipient ("Bestilte jordbærsmoothie to gange").
_OBJECT = re.compile(
    r"(?:\b(?:our|unser\w*|vår|våra|vårt|våre|vores|jeres|era|ert|eure\w*)\s+|"
    r"\b(?:to|about|for|on|over|för|av|af|wegen|für|über|auf)\s+"
    r"(?:the|a|an|en|ett|et|ei|den|det|de|der|die|das|dem|des|ein|eine|einen|einem)\s+|"
    r"\b(?:is|are|är|er|ist|sind)\s+(?:the|a|an|den|det|der|die|das)\s+)(?=[^\W\d_])",
    re.IGNORECASE)


_SAID = re.compile(rf"^{_SAYS}\b", re.IGNORECASE)
_FOR = re.compile(r"\b(?:for|för|wegen|für)\s+(?:[^\W\d_]+\s+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Like:
    """What the customer likes, in their history's words; `wish` when they want it rather
    than have it (an interest, a wishlist), so no reply or reason claims they had it."""

    words: str
    wish: bool = False


def liked(text: str, preference: bool = False) -> Like | None:
    """'Loves the cardamom buns from the lobby bakery' -> 'cardamom buns from the lobby
    bakery', from any clause ("Vegetarian; likes the halloumi burger"); None when the item
    does not say what they like, or says what they like to do ("prefers to be called").
    A `preference` item's object is read by its shape when no grammar of liking is found."""
    found = _liked(text)
    return found if found or not preference else _object(text)


def _object(text: str) -> Like | None:
    for clause in (_unreported(part.strip()) for part in _CLAUSES.split(text.strip())):
        starts = list(_OBJECT.finditer(clause))
        # A clause the grammar of liking read and refused ("Likes to sit near the window"),
        # or one that reports an opinion ("Says the parking is a nightmare"), stays refused.
        read = any(grammar.match(clause) for grammar in (_LIKES, _INTEREST, _ANY_HABIT,
                                                          _SAID))
        if not starts or read or _NEGATED.search(clause) or _DEALINGS.search(clause) \
                or _MATTER.search(clause):
            continue
        rest = clause[starts[-1].end():]
        # "Comes for our …" is a like; "Pays with our …" and "Comes late to …" are not.
        denied = _NO_LIKING.match(clause.split()[0]) and not _FOR.search(clause[:-len(rest)])
        if not (denied or _NO_ITEM_START.match(rest) or _DOING.match(rest)):
            return _named(rest.split(",")[0])
    return None


def _liked(text: str) -> Like | None:
    clauses = [_unreported(clause.strip()) for clause in _CLAUSES.split(text.strip())]
    # A like narrowed after a comma is the like: "Beställer alltid lunch, helst laxpuddingen".
    for whole in clauses:
        head, *rest = _AFTER_COMMA.split(whole)
        narrowed = next((part[found.end():] for part in rest
                         if (found := _NARROWS.match(part.strip()))), None)
        if narrowed and _like_in(head.strip()) and (like := _item_after(narrowed)):
            return like
    # A like may follow a comma too ("VIP guest, usually books the sea-view suite").
    after_commas = [part for whole in clauses for part in _AFTER_COMMA.split(whole)[1:]]
    unfronted = [said for whole in clauses if (said := _unfronted(whole.strip()))]
    for clause in (whole.strip() for whole in [*clauses, *after_commas, *unfronted]):
        if like := _like_in(clause):
            return like
    return None


# The words that narrow a like to one thing: "especially", "helst", "am liebsten", "især".
_NARROWS = re.compile(
    r"(?:especially|particularly|preferably|above\s+all|mostly|helst|särskilt|framför\s+allt|"
    r"især|særligt|særlig|fremfor\s+alt|spesielt|aller\s+helst|am\s+liebsten|"
    r"besonders|vor\s+allem|vorzugsweise)\s+", re.IGNORECASE)


def _like_in(clause: str) -> Like | None:
    """The like one clause states, by any of the grammars above."""
    if wanted := _INTEREST.match(clause):
        rest = _VERB_LAST.sub("", clause[wanted.end():])
        if found := _item_after(rest, also=_MATTER):  # no price or refund is a wish
            return Like(found.words, wish=True)
    if match := _LIKES.match(clause):
        said = match.group(0).strip()
        label_denies = said.endswith((":", "=")) and _NEGATED.search(said)  # "Dislikes:"
        # What one never misses may be a duty ("Never misses a payment").
        also = _MATTER if match["never"] else None
        if not label_denies and (found := _item_after(clause[match.end():], also=also)):
            return found
    someone = _SOMEONE_LIKES.match(clause)
    if someone and not (_NOBODY.match(someone["who"]) or _NEGATED.search(someone["who"])) \
            and (found := _item_after(clause[someone.end():])):
        return found
    habit = _ANY_HABIT.match(clause)
    rest = clause[habit.end():] if habit else ""
    # Paying is no liking ("always pays late"), but paying for a thing buys it ("Betaler
    # altid for ekstra benplads").
    if habit and (not _NO_LIKING.match(verb := habit["verb"] or habit["verb_first"])
                  or (_PAYS.match(verb) and _CHOSEN.match(rest))):
        rest = _CHOSEN.sub("", rest, count=1)
        if not _NO_ITEM_START.match(rest) and (found := _item_after(rest, also=_MATTER)):
            return found
    praised = _PRAISED.match(clause)
    if praised and not _NEGATED.search(praised.group(0)):
        return _named(praised.group("item") or praised.group("found"))
    return None


def _item_after(rest: str, also: re.Pattern[str] | None = None) -> Like | None:
    """The liked thing after the words that say it is liked; none where those words go on
    to an activity ("to sit outside"), a denial before the item's comma ("Likes: dark roast,
    no sugar" keeps its like), how the customer is dealt with, or what `also` refuses."""
    own = rest.split(",")[0]
    if _DOING.match(rest) or _NEGATED.search(own) or _DEALINGS.search(own) \
            or _SOMEONE.match(own) or _FREE_OF.match(own.strip()) \
            or (also is not None and also.search(own)):
        return None
    return _named(rest)


def _named(text: str, wish: bool = False) -> Like | None:
    words = item_name(_COMPARED.split(text)[0])
    bare = _TRAILING_OFTEN.sub("", words) if words else ""  # "dem alltid"
    return Like(words, wish) if words and not _PRONOUN.fullmatch(bare) else None


# What it is liked over is not liked: "Prefers ranunculus over roses", "Mag Pfefferminztee
# lieber als Kaffee".
_COMPARED = re.compile(
    r"\s+(?:over|rather\s+than|instead\s+of|more\s+than|framför|hellre\s+än|snarare\s+än|"
    r"mer\s+än|fremfor|frem\s+for|i\s+stedet\s+for|istedenfor|heller\s+enn|mere\s+end|"
    r"mer\s+enn|statt|anstatt|lieber\s+als|mehr\s+als)\s", re.IGNORECASE)
_TRAILING_OFTEN = re.compile(rf"\s+{_FREQUENTLY}$", re.IGNORECASE)
# A pronoun stands for something said elsewhere ("Köper dem till sin son"): no item.
_PRONOUN = re.compile(
    r"(?:it|them|those|these|that|this|one|ones|some|dem|dom|det|den|de|dei|dessa|disse|"
    r"dette|denne|es|sie|ihn|diese|dieses|welche)", re.IGNORECASE)
